import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";

/**
 * The embedded (PGlite) deployment end to end through the REST API: secrets stay write-only,
 * the audit chain verifies, a second process cannot open the same data dir, a restart keeps
 * everything, and an edited audit row is named by verify.
 */
describe("embedded mode", () => {
  let gh: GatehouseProcess;
  let token: string;

  beforeAll(async () => {
    gh = await startGatehouse();
    token = await login(gh.url, gh.adminEmail, gh.adminPassword);
  });
  afterAll(async () => {
    await teardown(gh);
  });

  it("creates a connection whose secret never comes back", async () => {
    const created = await apiCall(gh.url, token, "POST", "/connections", { name: "billing-db", type: "postgres", upstream: "postgres://10.1.2.3:5432/billing", username: "app", secret: "s3cr3t-upstream-pw", tags: ["prod"] });
    expect(created.status).toBe(200);
    expect(created.body.connection).toMatchObject({ name: "billing-db", hasSecret: true, tags: ["prod"] });
    const list = await apiCall(gh.url, token, "GET", "/connections");
    expect(JSON.stringify(list.body)).not.toContain("s3cr3t-upstream-pw");
    expect(JSON.stringify(list.body)).not.toMatch(/secretCiphertext|v1\.[A-Za-z0-9_-]{16}/);
    const dup = await apiCall(gh.url, token, "POST", "/connections", { name: "billing-db", type: "postgres", upstream: "postgres://x:1/y" });
    expect(dup.status).toBe(409);
    const bad = await apiCall(gh.url, token, "POST", "/connections", { name: "Bad Name!", type: "postgres", upstream: "nope" });
    expect(bad.status).toBe(400);
    // The secret is sealed at rest, not stored in the clear.
    const files = fs.readdirSync(`${gh.dataDir}/db`, { recursive: true }) as string[];
    let clear = false;
    for (const f of files) {
      const p = `${gh.dataDir}/db/${f}`;
      if (fs.statSync(p).isFile() && fs.readFileSync(p).includes("s3cr3t-upstream-pw")) clear = true;
    }
    expect(clear).toBe(false);
  });

  it("issues personal tokens that authenticate until revoked", async () => {
    const minted = await apiCall(gh.url, token, "POST", "/tokens", { name: "ci", ttlSeconds: 3600 });
    expect(minted.status).toBe(200);
    const me = await apiCall(gh.url, minted.body.token, "GET", "/me");
    expect(me.body).toMatchObject({ email: gh.adminEmail, via: "token" });
    const revoked = await apiCall(gh.url, token, "DELETE", `/tokens/${minted.body.id}`);
    expect(revoked.status).toBe(200);
    expect((await apiCall(gh.url, minted.body.token, "GET", "/me")).status).toBe(401);
  });

  it("refuses tampered and alg:none tokens", async () => {
    const [h, p, s] = token.split(".");
    const payload = JSON.parse(Buffer.from(p, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...payload, email: "root@evil" })).toString("base64url");
    expect((await apiCall(gh.url, `${h}.${forged}.${s}`, "GET", "/me")).status).toBe(401);
    const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    expect((await apiCall(gh.url, `${none}.${p}.`, "GET", "/me")).status).toBe(401);
  });

  it("disabling a user revokes their tokens", async () => {
    const created = await apiCall(gh.url, token, "POST", "/users", { email: "dev@example.test", password: "a-long-password-1", role: "member" });
    expect(created.status).toBe(200);
    const devToken = await login(gh.url, "dev@example.test", "a-long-password-1");
    expect((await apiCall(gh.url, devToken, "GET", "/me")).status).toBe(200);
    expect((await apiCall(gh.url, token, "PATCH", `/users/dev@example.test`, { disabled: true })).status).toBe(200);
    expect((await apiCall(gh.url, devToken, "GET", "/me")).status).toBe(401);
    const relogin = await fetch(`${gh.url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "dev@example.test", password: "a-long-password-1" }) });
    expect(relogin.status).toBe(401);
  });

  it("rate-limits password guessing per account", async () => {
    await apiCall(gh.url, token, "POST", "/users", { email: "victim@example.test", password: "victim-password-1" });
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await apiCall(gh.url, null, "POST", "/login", { email: "victim@example.test", password: `guess-${i}` })).status);
    expect(statuses.slice(0, 5).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(5)).toEqual([429, 429]);
    // Even the right password is refused while locked.
    expect((await apiCall(gh.url, null, "POST", "/login", { email: "victim@example.test", password: "victim-password-1" })).status).toBe(429);
  });

  it("a second process on the same data dir refuses to start, naming the first", async () => {
    await expect(startGatehouse({ dataDir: gh.dataDir })).rejects.toThrow(new RegExp(`in use by another Gatehouse process \\(pid ${gh.proc.pid}`));
  });

  it("keeps data across a restart, and audit verify names an edited row", async () => {
    const verified = await apiCall(gh.url, token, "GET", "/audit/verify");
    expect(verified.body).toMatchObject({ ok: true });
    const rows = verified.body.rows as number;
    expect(rows).toBeGreaterThan(5);
    expect(await gh.stop()).toBe(0);
    expect(fs.existsSync(`${gh.dataDir}/gatehouse.lock`)).toBe(false);

    // Edit one row directly in the embedded database, as an intruder with disk access would.
    const { PGlite } = await import("@electric-sql/pglite");
    const db = await PGlite.create(`${gh.dataDir}/db`);
    await db.query(`update audit_log set subject = 'connection:innocent' where seq = 3`);
    await db.close();

    gh = await startGatehouse({ dataDir: gh.dataDir });
    token = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const list = await apiCall(gh.url, token, "GET", "/connections");
    expect(list.body.connections.map((c: { name: string }) => c.name)).toContain("billing-db");
    const broken = await apiCall(gh.url, token, "GET", "/audit/verify");
    expect(broken.body).toMatchObject({ ok: false, seq: 3 });
  });
});
