import { describe, expect, it } from "vitest";
import { checkCustomRegex, compileDictionary, mergeRanges, scanCustom } from "./custom";
import { RangeList } from "./detectors/scanner";

describe("custom regex validation", () => {
  it("accepts ordinary patterns", () => {
    for (const p of ["EMP-\\d{6}", "\\bproject (apollo|gemini)\\b", "[A-Z]{3}-\\d+", "(ab)+", "(?:a|b){2,8}"]) {
      expect(checkCustomRegex(p), p).toBeNull();
    }
  });

  it("reports compile errors with the engine's message", () => {
    expect(checkCustomRegex("(unclosed")).toMatch(/does not compile: .*Unterminated group/);
    expect(checkCustomRegex("[z-a]")).toMatch(/does not compile/);
  });

  it("refuses catastrophic shapes, backreferences, empty matches and long patterns", () => {
    expect(checkCustomRegex("(a+)+$")).toMatch(/nests a quantifier/);
    expect(checkCustomRegex("(\\w*\\s?)*x")).toMatch(/nests a quantifier/);
    expect(checkCustomRegex("((ab)*c)+")).toMatch(/nests a quantifier/);
    expect(checkCustomRegex("(a{1,5}){10}")).toMatch(/nests a quantifier/);
    expect(checkCustomRegex("(a)\\1")).toMatch(/backreference/);
    expect(checkCustomRegex("a*")).toMatch(/empty string/);
    expect(checkCustomRegex("")).toMatch(/empty/);
    expect(checkCustomRegex("a".repeat(257))).toMatch(/longer than 256/);
  });

  it("refuses what V8's linear-time engine cannot run: lookaround and huge counted repetition have no safe fallback", () => {
    expect(checkCustomRegex("(?=(a|a)*!)a")).toMatch(/linear time/);
    expect(checkCustomRegex("a(?!b)")).toMatch(/linear time/);
    expect(checkCustomRegex("(?<=x)a")).toMatch(/linear time/);
    expect(checkCustomRegex("\\d{1,1000}")).toMatch(/linear time/);
    // Overlapping alternatives and stacked quantifiers are accepted: excessive backtracking falls back.
    expect(checkCustomRegex("(a|a)*!")).toBeNull();
    expect(checkCustomRegex("a*a*a*a*a*a*!")).toBeNull();
  });

  it("is not fooled by quantifier characters inside classes or escapes", () => {
    expect(checkCustomRegex("([+*])+")).toBeNull();
    expect(checkCustomRegex("(a\\+)+")).toBeNull();
  });
});

describe("dictionary", () => {
  const ranges = (re: RegExp, text: string) => {
    const out = new RangeList();
    scanCustom(text, [{ re, kind: 20 }], out);
    return Array.from({ length: out.length }, (_, i) => text.slice(out.starts[i], out.ends[i]));
  };

  it("matches whole words and phrases case-insensitively, longest first", () => {
    const re = compileDictionary(["Apollo", "project apollo", "Zeus"])!;
    expect(ranges(re, "PROJECT  APOLLO and apollo, not apollonian or zeusx; zeus.")).toEqual(["PROJECT  APOLLO", "apollo", "zeus"]);
  });

  it("escapes regex characters in entries", () => {
    const re = compileDictionary(["c++ team", "a.b"])!;
    expect(ranges(re, "the c++ team and axb and a.b")).toEqual(["c++ team", "a.b"]);
  });

  it("is null for an empty list", () => {
    expect(compileDictionary(["  ", ""])).toBeNull();
  });
});

describe("range merging", () => {
  const list = (...pairs: [number, number][]) => {
    const l = new RangeList();
    for (const [s, e] of pairs) l.push(s, e, s);
    return l;
  };
  const pairs = (l: RangeList) => Array.from({ length: l.length }, (_, i) => [l.starts[i], l.ends[i]]);

  it("keeps ranges from the first list on overlap and interleaves the rest", () => {
    const out = new RangeList();
    mergeRanges(list([0, 5], [10, 15]), list([3, 7], [7, 9], [14, 20], [21, 22]), out);
    expect(pairs(out)).toEqual([[0, 5], [7, 9], [10, 15], [21, 22]]);
  });

  it("sorts custom matches from several patterns and drops overlaps among them", () => {
    const out = new RangeList();
    scanCustom("abc def abc", [{ re: /def/g, kind: 1 }, { re: /abc/g, kind: 2 }, { re: /c d/g, kind: 3 }], out);
    expect(pairs(out)).toEqual([[0, 3], [4, 7], [8, 11]]);
  });
});
