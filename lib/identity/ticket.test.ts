import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { users } from "@/db/schema";
import { authenticateToken } from "@/lib/gateway/core/authenticate";
import { getSigningKeys } from "./keys";
import { issueToken } from "./tokens";

/** A connection ticket authenticates exactly one gateway connection; reuse is refused and audited. */
describe("connection tickets", () => {
  let h: DbHandle;
  beforeAll(async () => {
    process.env.GATEHOUSE_SECRET_KEY ??= Buffer.alloc(32, 3).toString("base64");
    h = await openPglite(null);
  });
  afterAll(async () => h?.close());

  it("works once, then is refused (audited), even when two uses race", async () => {
    const [u] = await h.db.insert(users).values({ email: "t@example.test", role: "member" }).returning();
    const keys = await getSigningKeys(h.db);
    const mint = () => h.db.transaction((tx) => issueToken(tx, keys, { userId: u.id, email: u.email, kind: "ticket", ttlSeconds: 60, chain: [{ kind: "user", id: u.id, name: u.email }] }));
    const ctx = { protocol: "postgres", address: "127.0.0.1", claimedUser: u.email, connection: "db" };
    const { token } = await mint();
    await expect(authenticateToken(h.db, token, ctx)).resolves.toMatchObject({ userId: u.id });
    await expect(authenticateToken(h.db, token, ctx)).rejects.toThrow("already used");
    const audit = await h.query<{ action: string; detail: { reason: string } }>("select action, detail from audit_log where action = 'gateway.auth_failed'");
    expect(audit.some((a) => a.detail.reason.includes("already used"))).toBe(true);

    const second = (await mint()).token;
    const results = await Promise.allSettled([authenticateToken(h.db, second, ctx), authenticateToken(h.db, second, ctx)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("a child whose ancestor was revoked is refused, even if the cascade missed it (exchange/revoke race)", async () => {
    const [u] = await h.db.insert(users).values({ email: "race@example.test", role: "member" }).returning();
    const keys = await getSigningKeys(h.db);
    const root = [{ kind: "user" as const, id: u.id, name: u.email }];
    const parent = await h.db.transaction((tx) => issueToken(tx, keys, { userId: u.id, email: u.email, kind: "personal", ttlSeconds: 600, chain: root }));
    const child = await h.db.transaction((tx) =>
      issueToken(tx, keys, { userId: u.id, email: u.email, kind: "delegated", ttlSeconds: 300, parentTokenId: parent.id, chain: [{ ...root[0], tokenId: parent.id }, { kind: "agent", id: "bot", name: "bot" }] }),
    );
    const ctx = { protocol: "postgres", address: "127.0.0.1", claimedUser: u.email, connection: "db" };
    await expect(authenticateToken(h.db, child.token, ctx)).resolves.toMatchObject({ tokenId: child.id });
    await h.query("update tokens set revoked_at = now() where id = $1", [parent.id]);
    await expect(authenticateToken(h.db, child.token, ctx)).rejects.toThrow("revoked");
  });
});
