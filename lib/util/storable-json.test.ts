import { describe, expect, it } from "vitest";
import { storableJson, storableText } from "./storable-json";

describe("storable text and JSON", () => {
  it("replaces NUL and unpaired surrogates, keeps pairs and everything else", () => {
    expect(storableText("a\0b")).toBe("a\u2400b");
    expect(storableText("\ud800x\udc00")).toBe("\ufffdx\ufffd");
    expect(storableText("emoji \ud83d\ude00 ok")).toBe("emoji \ud83d\ude00 ok");
  });

  it("cleans strings at any depth and leaves clean JSON untouched", () => {
    expect(JSON.parse(storableJson({ a: ["x\0", { b: "\udfff" }], n: 1 }))).toEqual({ a: ["x\u2400", { b: "\ufffd" }], n: 1 });
    const clean = { a: "plain \\u0000 text", d: new Date(0) };
    expect(storableJson(clean)).toBe(JSON.stringify(clean));
  });
});
