import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { externalIdentities, users } from "@/db/schema";
import { issueLoginCode, redeemLoginCode } from "./login-code";
import { consumeRequestId, isRequestIdConsumed, newRequestId, REQUEST_TTL_MS, requestIdIssuedAt } from "./saml-request";

describe("SAML request ids and login codes", () => {
  let h: DbHandle;
  beforeAll(async () => {
    process.env.GATEHOUSE_SECRET_KEY ??= Buffer.alloc(32, 3).toString("base64");
    h = await openPglite(null);
  });
  afterAll(async () => h?.close());

  it("accepts only authentic, fresh ids, which are valid XML IDs", () => {
    const now = Date.now();
    const id = newRequestId(now);
    expect(id).toMatch(/^[_A-Za-z][\w.-]*$/);
    expect(requestIdIssuedAt(id, now + 1000)).toBe(now);
    // one flipped character of the MAC, of the time, of the nonce
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "0" ? "1" : "0") + s.slice(i + 1);
    expect(requestIdIssuedAt(flip(id, id.length - 1), now)).toBeNull();
    expect(requestIdIssuedAt(flip(id, 4), now)).toBeNull();
    expect(requestIdIssuedAt(flip(id, id.indexOf("-", 4) + 2), now)).toBeNull();
    expect(requestIdIssuedAt(id, now + REQUEST_TTL_MS + 1)).toBeNull();
    expect(requestIdIssuedAt(newRequestId(now + 120_000), now)).toBeNull();
    expect(requestIdIssuedAt("_abc", now)).toBeNull();
  });

  it("consumes an id exactly once, even when two consumers race", async () => {
    const id = newRequestId();
    expect(await isRequestIdConsumed(h.db, id)).toBe(false);
    const results = await Promise.all([consumeRequestId(h.db, id), consumeRequestId(h.db, id)]);
    expect(results.sort()).toEqual([false, true]);
    expect(await isRequestIdConsumed(h.db, id)).toBe(true);
    expect(await consumeRequestId(h.db, "_gh-forged")).toBe(false);
  });

  it("redeems a login code once, and only with the request binding it was issued for", async () => {
    // A code names a user that exists (it carries the user's session version).
    await h.db.insert(users).values({ id: "00000000-0000-0000-0000-000000000001", email: "saml-code@example.test", source: "saml" });
    // ... and the identity link it came through (the console session records it).
    const link = { issuer: "https://idp.example.test", subject: "name-id" };
    await h.db.insert(externalIdentities).values({ ...link, userId: "00000000-0000-0000-0000-000000000001" });
    const code = await h.db.transaction((tx) => issueLoginCode(tx, "00000000-0000-0000-0000-000000000001", "req-a", link));
    expect(await redeemLoginCode(h.db, code, "req-b")).toBeNull();
    // the wrong binding burned it
    expect(await redeemLoginCode(h.db, code, "req-a")).toBeNull();
    const again = await h.db.transaction((tx) => issueLoginCode(tx, "00000000-0000-0000-0000-000000000001", "req-a", link));
    expect(await redeemLoginCode(h.db, again, "req-a")).toEqual({ userId: "00000000-0000-0000-0000-000000000001", signIn: { via: "saml", ...link, linkedAt: expect.any(Number) } });
    expect(await redeemLoginCode(h.db, again, "req-a")).toBeNull();
    expect(await redeemLoginCode(h.db, "", "req-a")).toBeNull();
  });
});
