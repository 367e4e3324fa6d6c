import { describe, expect, it } from "vitest";
import { tokenizeCedar } from "./cedar-tokens";

describe("tokenizeCedar", () => {
  it("classifies the parts of a policy", () => {
    const toks = tokenizeCedar('@hold("approvers")\npermit(principal, action == Gatehouse::Action::"write", resource) // c\nwhen { context.request.kind == "write" };');
    const kinds = (k: string) => toks.filter((t) => t.kind === k).map((t) => t.text);
    expect(kinds("annotation")).toEqual(["@hold"]);
    expect(kinds("keyword")).toEqual(["permit", "when"]);
    expect(kinds("scope")).toEqual(["principal", "action", "resource", "context"]);
    expect(kinds("entity")).toEqual(["Gatehouse::Action"]);
    expect(kinds("comment")).toEqual(["// c"]);
    expect(kinds("string")).toContain('"write"');
  });
  it("loses no characters, even on unterminated strings", () => {
    const src = 'permit(principal, action, resource) when { "unterminated';
    expect(tokenizeCedar(src).map((t) => t.text).join("")).toBe(src);
  });
});
