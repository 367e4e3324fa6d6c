import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { storableJson } from "@/lib/util/storable-json";
import { canonicalPayload } from "./recording-digest";
import { serialize } from "./serialize";

/** What the recording's chain links for a payload sent as `storableJson` (the spelling before serialize() wrote it canonically). */
const chained = (v: Record<string, unknown>) => canonicalPayload(storableJson(v));

describe("serialize: canonical, storable JSON", () => {
  it("writes keys sorted at every depth, without spacing", () => {
    expect(serialize({ b: 1, a: { d: [3, { z: null, y: true }], c: "x" } })).toBe('{"a":{"c":"x","d":[3,{"y":true,"z":null}]},"b":1}');
  });

  it("sorts integer-like keys as strings, as the chain does", () => {
    expect(serialize({ 10: "a", 9: "b", x: 1 })).toBe('{"10":"a","9":"b","x":1}');
  });

  it("writes what JSON.stringify cannot write as jsonb would read it back", () => {
    expect(serialize({ a: undefined, b: [undefined, () => 1], c: NaN, d: -Infinity, e: -0 })).toBe('{"b":[null,null],"c":null,"d":null,"e":0}');
    expect(serialize({ at: new Date(0), buf: Buffer.from("hi") })).toBe('{"at":"1970-01-01T00:00:00.000Z","buf":{"data":[104,105],"type":"Buffer"}}');
  });

  it("makes NUL and unpaired surrogates storable", () => {
    expect(serialize({ p: ["a\0b", "x\ud800y"] })).toBe('{"p":["a\u2400b","x\ufffdy"]}');
  });

  it("property: gives exactly the text the chain links, for any JSON-like payload", () => {
    const value = fc.oneof(
      fc.jsonValue(),
      fc.anything({ withBoxedValues: false, withMap: false, withSet: false, withTypedArray: false, withSparseArray: true, withNullPrototype: true, withObjectString: true }),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value), (payload) => {
        let expected: string;
        try {
          expected = chained(payload);
        } catch {
          return; // not JSON at all (a BigInt): nothing to compare
        }
        expect(serialize(payload)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
