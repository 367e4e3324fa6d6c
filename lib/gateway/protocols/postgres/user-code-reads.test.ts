import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify";
import type { UpstreamMetadata } from "./metadata";
import { userCodeRefusal } from "./user-code";

/** A catalog where `stamped` has a trigger (what a statement on it runs) but reading it runs nothing. */
function catalog(asked: string[]): UpstreamMetadata {
  return {
    userCode: async (kind: string, ref: { name: string }) => {
      asked.push(`${kind}:${ref.name}`);
      return kind === "relation" && ref.name === "stamped" ? ["public.moddatetime"] : [];
    },
  } as unknown as UpstreamMetadata;
}

describe("userCodeRefusal: a read runs what reading its relations runs", () => {
  beforeAll(() => initClassifier());

  it("does not refuse a read of a table whose only code is a trigger", async () => {
    const asked: string[] = [];
    expect(await userCodeRefusal("select * from stamped", catalog(asked), () => null, "read")).toBeNull();
    expect(asked).toContain("reads:stamped");
    expect(asked).not.toContain("relation:stamped");
  });

  it.each(["write", "ddl", "admin", "unknown"] as const)("refuses a statement of kind %s on it: its trigger may fire", async (kind) => {
    const why = await userCodeRefusal("select * from stamped for update", catalog([]), () => null, kind);
    expect(why).toContain("public.moddatetime");
  });
});
