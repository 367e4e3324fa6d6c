import { describe, expect, it } from "vitest";
import { parse, parseDuration, parseList, positionals, UsageError } from "./args";

describe("parseDuration", () => {
  it.each([
    ["3600", 3600],
    ["90m", 5400],
    ["1h", 3600],
    ["12H", 43_200],
    ["30d", 2_592_000],
    ["2w", 1_209_600],
    ["1h30m", 5400],
    [" 45s ", 45],
  ])("%s → %i seconds", (text, seconds) => expect(parseDuration(text)).toBe(seconds));

  it.each(["", "0", "0h", "-1h", "1.5h", "1y", "h", "1h 30m", "soon", "99999999999999999999"])("refuses %j as a usage error", (text) => {
    expect(() => parseDuration(text, "--ttl")).toThrow(UsageError);
  });
});

describe("parseList", () => {
  it("splits on commas, trims and drops empties", () => {
    expect(parseList("a, b,,c ")).toEqual(["a", "b", "c"]);
    expect(parseList("")).toEqual([]);
  });
});

describe("parse / positionals", () => {
  it("accepts global flags anywhere and turns parseArgs errors into usage errors", () => {
    expect(parse(["x", "--json", "--name", "n"], { name: { type: "string" } })).toEqual({ values: { json: true, name: "n" }, positionals: ["x"] });
    expect(() => parse(["--nope"], {})).toThrow(UsageError);
    expect(() => parse(["--name"], { name: { type: "string" } })).toThrow(UsageError);
  });

  it("names missing and extra positionals", () => {
    expect(() => positionals({ values: {}, positionals: [] }, "NAME")).toThrow("missing <NAME>");
    expect(() => positionals({ values: {}, positionals: ["a", "b"] }, "NAME")).toThrow("unexpected argument 'b'");
    expect(positionals({ values: {}, positionals: ["a"] }, "NAME")).toEqual(["a"]);
  });
});
