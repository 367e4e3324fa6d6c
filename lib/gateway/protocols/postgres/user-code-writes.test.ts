import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify";
import { codeNamesOf } from "./user-code";

describe("codeNamesOf: TRUNCATE", () => {
  beforeAll(() => initClassifier());

  it("cannot analyse TRUNCATE ... CASCADE: the tables it also empties are not named", () => {
    expect(codeNamesOf("TRUNCATE a CASCADE")).toBeNull();
    expect(codeNamesOf("TRUNCATE a")?.relation).toEqual([{ name: "a" }]);
  });
});
