import { describe, expect, it } from "vitest";
import { grantActorOf, grantLineage } from "./grant-lineage";

describe("whom a grant holds for", () => {
  const user = { kind: "user" as const, id: "u", name: "dev", tokenId: "t-root" };
  const agent = (name: string, tokenId: string) => ({ kind: "agent" as const, id: name, name, tokenId });

  it("a grant is bound to the delegated token that asked, or to no token when the user asked", () => {
    expect(grantActorOf([user])).toBeNull();
    expect(grantActorOf([user, agent("claude", "t-claude")])).toBe("t-claude");
    expect(grantActorOf([user, agent("claude", "t-claude"), agent("researcher", "t-res")])).toBe("t-res");
    const tokenless = { kind: "agent" as const, id: "x", name: "x" };
    expect(() => grantActorOf([user, tokenless])).toThrow(/without its own delegated token/);
  });

  it("a session's lineage: every token of its chain, its own, and a ticket's parent", () => {
    expect(grantLineage({ userId: "u", chain: [user, agent("claude", "t-claude"), agent("researcher", "t-res")], tokenId: "t-res", parentTokenId: "t-claude" }).sort()).toEqual(["t-claude", "t-res", "t-root"]);
    // a ticket minted from researcher's token: the same chain (naming researcher's token), its own id apart
    expect(grantLineage({ userId: "u", chain: [user, agent("claude", "t-claude"), agent("researcher", "t-res")], tokenId: "t-ticket", parentTokenId: "t-res" }).sort()).toEqual(["t-claude", "t-res", "t-root", "t-ticket"]);
    // one minted before tickets kept the actor's token in their chain: the parent still counts
    expect(grantLineage({ userId: "u", chain: [user, agent("claude", "t-claude"), agent("researcher", "t-ticket")], tokenId: "t-ticket", parentTokenId: "t-res" }).sort()).toEqual(["t-claude", "t-res", "t-root", "t-ticket"]);
    expect(grantLineage({ userId: "u", chain: [] })).toEqual([]);
  });
});
