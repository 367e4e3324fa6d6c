import { describe, expect, it } from "vitest";
import { restsOnRevoked } from "./live-sessions";

describe("restsOnRevoked", () => {
  const user = { kind: "user" as const, id: "u1", name: "dev@example.test", tokenId: "t-user" };
  const agent = { kind: "agent" as const, id: "claude", name: "claude", tokenId: "t-agent" };
  const child = { kind: "agent" as const, id: "helper", name: "helper", tokenId: "t-child" };

  it("ends a session on a revoked token, a revoked parent, or a revoked ancestor in its chain", () => {
    const session = { tokenId: "t-child", parentTokenId: "t-agent", chain: [user, agent, child] };
    expect(restsOnRevoked(session, new Set(["t-child"]))).toBe(true);
    // the cascade list missed the child (committed during the revocation): its parent is in it
    expect(restsOnRevoked(session, new Set(["t-agent"]))).toBe(true);
    expect(restsOnRevoked(session, new Set(["t-user"]))).toBe(true);
    // a ticket carries no token ids in its chain: its parent counts
    expect(restsOnRevoked({ tokenId: "t-ticket", parentTokenId: "t-child", chain: [{ ...user, tokenId: undefined }] }, new Set(["t-child"]))).toBe(true);
  });

  it("leaves sessions on other tokens alone", () => {
    expect(restsOnRevoked({ tokenId: "t-other", parentTokenId: null, chain: [{ ...user, tokenId: "t-other" }] }, new Set(["t-agent", "t-child"]))).toBe(false);
    expect(restsOnRevoked({ tokenId: null, chain: [user] }, new Set(["t-agent"]))).toBe(false);
  });
});
