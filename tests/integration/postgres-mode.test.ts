import fs from "node:fs";
import postgres from "postgres";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { addConnection, pgUpstream } from "../support/api-fixture";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Scale-out: two Gatehouse processes on one real PostgreSQL 15. Migrations apply (once, under
 * an advisory lock), both serve the same data, and events published by one reach the other
 * over LISTEN/NOTIFY.
 */
describe("two processes on a shared PostgreSQL 15", () => {
  let pg: Postgres15;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  const secretKey = Buffer.alloc(32, 7).toString("base64");

  beforeAll(async () => {
    pg = await startPostgres15();
    const env = { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: secretKey };
    [a, b] = await Promise.all([startGatehouse({ env, demo: false }), startGatehouse({ env, demo: false })]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await pg?.stop();
    for (const p of [a, b]) if (p) fs.rmSync(p.dataDir, { recursive: true, force: true });
  });

  it("applies the migrations on PostgreSQL 15", async () => {
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    const [{ version }] = await sql`select current_setting('server_version_num')::int as version`;
    const tables = await sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`;
    await sql.end();
    expect(version).toBeGreaterThanOrEqual(150000);
    expect(version).toBeLessThan(160000);
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["users", "tokens", "connections", "audit_log", "sessions", "session_events", "approval_requests"]));
  });

  it("a token issued by one process works on the other", async () => {
    const token = await login(a.url, a.adminEmail, a.adminPassword);
    expect((await apiCall(b.url, token, "GET", "/me")).status).toBe(200);
  });

  it("events published by one process reach the other", async () => {
    const token = await login(b.url, b.adminEmail, b.adminPassword);
    const ws = new WebSocket(`ws://127.0.0.1:${b.port}/ws/events`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const received = new Promise<{ topic: string; data: { id: string } }>((resolve) => ws.on("message", (m) => resolve(JSON.parse(String(m)))));
    const created = await apiCall(a.url, token, "POST", "/connections", { name: "shared-db", type: "postgres", upstream: "postgres://10.0.0.9:5432/x", secret: "pw" });
    expect(created.status).toBe(200);
    const msg = await Promise.race([received, new Promise((_, rej) => setTimeout(() => rej(new Error("no event within 5 s")), 5000))]);
    expect(msg).toMatchObject({ topic: "connection.changed", data: { id: created.body.connection.id } });
    ws.close();
    // And the other process reads the same connection (and can decrypt nothing it must not show).
    const list = await apiCall(b.url, token, "GET", "/connections");
    expect(list.body.connections.map((c: { name: string }) => c.name)).toContain("shared-db");
  });

  it("a session's events go to the other process only while a viewer there watches it", async () => {
    const token = await login(a.url, a.adminEmail, a.adminPassword);
    await addConnection(a, token, "loopback-pg", { ...pgUpstream(pg) });
    // What crosses between the processes, as a third listener on their channel sees it.
    const listener = postgres(pg.url, { max: 1, onnotice: () => {} });
    const crossed: string[] = [];
    const unwatched: string[] = []; // b's announcements that it stopped watching
    await listener.listen("gatehouse_events", (p) => {
      if (p.includes('"topic":"session.event"')) crossed.push(p);
      else if (p.includes('"topic":"bus.watch"') && p.includes('"on":false')) unwatched.push(p);
    });
    const client = postgres({ host: "127.0.0.1", port: a.ports.postgres, database: "loopback-pg", username: a.adminEmail, password: token, ssl: false, max: 1, onnotice: () => {} });
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      await client`select 'nobody-watches'`;
      const live = await apiCall(a.url, token, "GET", "/sessions?status=live&protocol=postgres");
      const id = live.body.sessions[0].id as string;
      await pause(300); // live events leave every 40 ms
      expect(crossed).toEqual([]);

      const ws = new WebSocket(`ws://127.0.0.1:${b.port}/ws/sessions/${id}`, { headers: { authorization: `Bearer ${token}` } });
      const messages: { kind: string; payload?: { text?: string } }[] = [];
      ws.on("message", (m) => messages.push(JSON.parse(String(m))));
      const until = async (what: string, ok: () => boolean) => {
        for (const deadline = Date.now() + 5_000; !ok(); await pause(20)) if (Date.now() > deadline) throw new Error(`no ${what} within 5 s: ${JSON.stringify(messages)}`);
      };
      await until("watching", () => messages.some((m) => m.kind === "watching"));
      await client`select 'cross-process-probe'`;
      await until("probe event", () => messages.some((m) => m.payload?.text?.includes("cross-process-probe")));
      // The NOTIFY reaches b and this listener independently: this copy may come a little later.
      await expect.poll(() => crossed.length, { timeout: 10_000 }).toBeGreaterThan(0);
      expect(crossed.every((p) => p.includes(id))).toBe(true);

      ws.close();
      // b says it stopped watching, and what a sent before it heard so has all arrived: nothing
      // crossed for a second.
      await expect.poll(() => unwatched.some((p) => p.includes(id)), { timeout: 10_000 }).toBe(true);
      for (let n = crossed.length, quiet = Date.now(), giveUp = quiet + 10_000; Date.now() - quiet < 1000 && Date.now() < giveUp; await pause(50)) {
        if (crossed.length !== n) [n, quiet] = [crossed.length, Date.now()];
      }
      const before = crossed.length;
      await client`select 'watched-no-more'`;
      await pause(300);
      expect(crossed.length).toBe(before);
    } finally {
      await client.end();
      await listener.end();
    }
  });

  it("a policy saved on one process is in force on the other within a second", async () => {
    const token = await login(a.url, a.adminEmail, a.adminPassword);
    const current = await apiCall(a.url, token, "GET", "/policies");
    const text = `${current.body.policy.text}\n@id("no-drop")\n@reason("no DROP through the gateway")\nforbid(principal, action, resource) when { context.request.text like "*DROP*" };`;
    const saved = await apiCall(a.url, token, "PUT", "/policies", { text, comment: "cross-process" });
    expect(saved.status).toBe(200);
    const deadline = Date.now() + 10_000; // a second is the aim; a loaded CI machine may take longer
    let loaded: string | null = null;
    while (Date.now() < deadline) {
      loaded = (await apiCall(b.url, token, "GET", "/policies")).body.loadedVersion;
      if (loaded === String(saved.body.version)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(loaded).toBe(String(saved.body.version));
    const sim = await apiCall(b.url, token, "POST", "/policies/simulate", { principal: a.adminEmail, connection: "shared-db", statement: "DROP TABLE t" });
    expect(sim.body.simulation.verdict).toMatchObject({ type: "deny", reason: "no DROP through the gateway" });
  });

  it("a policy preview asked of one process lists what it would end in the other's sessions too", async () => {
    const token = await login(a.url, a.adminEmail, a.adminPassword);
    await addConnection(a, token, "preview-pg", { ...pgUpstream(pg) });
    const onB = postgres({ host: "127.0.0.1", port: b.ports.postgres, database: "preview-pg", username: a.adminEmail, password: token, ssl: false, max: 1, onnotice: () => {} });
    try {
      await onB`select 1`;
      const current = (await apiCall(a.url, token, "GET", "/policies")).body.policy.text as string;
      const text = `${current}\n@id("close-preview-pg")\n@reason("preview-pg is closed")\nforbid (principal, action == Gatehouse::Action::"connect", resource) when { resource.name == "preview-pg" };`;
      const preview = await apiCall(a.url, token, "POST", "/policies/impact", { text });
      expect(preview.status).toBe(200);
      expect(preview.body).toMatchObject({ ok: true, elsewhere: 0 });
      expect(preview.body.items).toEqual([expect.objectContaining({ connection: "preview-pg", what: "session", reason: "preview-pg is closed" })]);
      expect(await onB`select 2 as two`).toEqual([{ two: 2 }]); // nothing was ended
    } finally {
      await onB.end();
    }
  });

  it("audit verify fails, naming the row, after one row is edited in PostgreSQL", async () => {
    const token = await login(a.url, a.adminEmail, a.adminPassword);
    expect((await apiCall(b.url, token, "GET", "/audit/verify")).body).toMatchObject({ ok: true });
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    await sql`update audit_log set detail = '{"forged":true}' where seq = 2`;
    await sql.end();
    expect((await apiCall(b.url, token, "GET", "/audit/verify")).body).toMatchObject({ ok: false, seq: 2 });
  });
});
