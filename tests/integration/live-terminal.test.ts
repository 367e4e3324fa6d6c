import postgres from "postgres";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { appendTerminalEvents, insertTerminalSession, publishTerminalEvent, type TermEvent } from "../support/terminal-sessions";

/**
 * The live terminal's server side: GET /api/v1/sessions/:id/terminal (the tail a viewer joining
 * mid-session writes first) and /ws/sessions/:id, against a real Gatehouse on a real
 * PostgreSQL 15. The test writes terminal sessions into the database and publishes their live
 * events over LISTEN/NOTIFY, as a gateway process on the same database does.
 */
describe("live terminal: tail route and live events", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let sql: postgres.Sql;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    pg = await startPostgres15();
    gh = await startGatehouse({ env: { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 9).toString("base64") } });
    sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [name, role] of [["alice", "member"], ["bob", "member"], ["audrey", "auditor"]] as const) {
      const email = `${name}@example.test`;
      expect((await apiCall(gh.url, tokens.admin, "POST", "/users", { email, password: "terminal-password-1", role })).status).toBe(200);
      tokens[name] = await login(gh.url, email, "terminal-password-1");
      ids[name] = (await apiCall(gh.url, tokens[name], "GET", "/me")).body.id;
    }
  });
  afterAll(async () => {
    await sql?.end();
    await teardown(gh, pg);
  });

  let seq = 0;
  const ev = (kind: string, payload: Record<string, unknown>): TermEvent => ({ seq: ++seq, tMs: seq * 10, kind, payload });
  const tail = (id: string, token: string | null, query = "?ch=0") => apiCall(gh.url, token, "GET", `/sessions/${id}/terminal${query}`);
  const upgradeStatus = (id: string, token: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${gh.port}/ws/sessions/${id}`, { headers: { authorization: `Bearer ${token}` } });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => {
        ws.close();
        resolve(101);
      });
      ws.on("error", () => resolve(-1));
    });

  it("returns the output since the last clear, the pty size and the session's last seq", async () => {
    seq = 0;
    const id = await insertTerminalSession(sql, { userId: ids.alice, userEmail: "alice@example.test" });
    await appendTerminalEvents(sql, id, [
      ev("connect", { connection: "web-host" }),
      ev("term.start", { ch: 0, mode: "shell", cols: 100, rows: 30, term: "xterm-256color" }),
      ev("term.o", { ch: 0, d: "old output\r\n$ clear\r\n" }),
      ev("term.o", { ch: 0, d: "\x1b[H\x1b[2J$ echo hi\r\nhi\r\n" }),
      ev("term.r", { ch: 0, cols: 120, rows: 40 }),
      ev("term.o", { ch: 0, b64: Buffer.from([0x24, 0x20, 0xe2, 0x82]).toString("base64") }),
      ev("term.o", { ch: 0, b64: Buffer.from([0xac]).toString("base64") }),
      ev("term.start", { ch: 1, mode: "exec", cols: 80, rows: 24, command: "uptime" }),
      ev("term.o", { ch: 1, d: "up 3 days" }),
      ev("request", { text: "uptime" }),
    ]);
    const res = await tail(id, tokens.alice);
    expect(res.status).toBe(200);
    expect(Buffer.from(res.body.data, "base64").toString("utf8")).toBe("\x1b[2J$ echo hi\r\nhi\r\n$ €");
    expect(res.body).toMatchObject({ ch: 0, seq: 10, from: "reset", startSize: { cols: 100, rows: 30 }, size: { cols: 120, rows: 40 }, term: "xterm-256color", session: { status: "live" } });
    expect(res.body.resizes).toEqual([{ at: Buffer.byteLength("\x1b[2J$ echo hi\r\nhi\r\n"), cols: 120, rows: 40 }]);
    expect(Math.abs(res.body.serverTime - Date.now())).toBeLessThan(5_000);
    const exec = await tail(id, tokens.alice, "?ch=1");
    expect(Buffer.from(exec.body.data, "base64").toString()).toBe("up 3 days");
    expect(exec.body.seq).toBe(10);
  });

  it("caps the tail at 1 MiB and reads only what it needs of a long session", async () => {
    seq = 0;
    const id = await insertTerminalSession(sql, { userId: ids.alice, userEmail: "alice@example.test" });
    const line = "x".repeat(1000) + "\r\n";
    const events = [ev("term.start", { ch: 0, mode: "shell", cols: 80, rows: 24 }), ...Array.from({ length: 3000 }, (_, i) => ev("term.o", { ch: 0, d: `${i} ${line}` }))];
    for (let i = 0; i < events.length; i += 500) await appendTerminalEvents(sql, id, events.slice(i, i + 500));
    const res = await tail(id, tokens.alice);
    const data = Buffer.from(res.body.data, "base64");
    expect(res.body.from).toBe("cap");
    expect(data.length).toBeLessThanOrEqual(1 << 20);
    expect(data.length).toBeGreaterThan((1 << 20) - 2_000);
    expect(data.toString().endsWith(`2999 ${line}`)).toBe(true);
    expect(res.body.seq).toBe(3001);
  });

  it("checks who may read the session: owner and session readers yes, other members and strangers no", async () => {
    seq = 0;
    const id = await insertTerminalSession(sql, { userId: ids.alice, userEmail: "alice@example.test" });
    await appendTerminalEvents(sql, id, [ev("term.start", { ch: 0, mode: "shell", cols: 80, rows: 24 }), ev("term.o", { ch: 0, d: "secret screen" })]);
    expect((await tail(id, tokens.alice)).status).toBe(200);
    expect((await tail(id, tokens.admin)).status).toBe(200);
    expect((await tail(id, tokens.audrey)).status).toBe(200);
    const bob = await tail(id, tokens.bob);
    expect(bob.status).toBe(404);
    expect(JSON.stringify(bob.body)).not.toContain("secret");
    expect((await tail(id, null)).status).toBe(401);
    expect((await tail(id, "not-a-token")).status).toBe(401);
    expect((await tail("00000000-0000-4000-8000-000000000000", tokens.admin)).status).toBe(404);
    expect((await tail("not-a-uuid", tokens.admin)).status).toBe(404);
    expect((await tail(id, tokens.alice, "?ch=-1")).status).toBe(400);
    expect((await tail(id, tokens.alice, "?ch=abc")).status).toBe(400);
    // The live socket makes the same check before upgrading.
    expect(await upgradeStatus(id, tokens.bob)).toBe(403);
    expect(await upgradeStatus(id, tokens.alice)).toBe(101);
  });

  it("delivers events published by another process to the session's live viewers, and only to them", async () => {
    seq = 0;
    const id = await insertTerminalSession(sql, { userId: ids.alice, userEmail: "alice@example.test" });
    const other = await insertTerminalSession(sql, { userId: ids.alice, userEmail: "alice@example.test" });
    const ws = new WebSocket(`ws://127.0.0.1:${gh.port}/ws/sessions/${id}`, { headers: { authorization: `Bearer ${tokens.alice}` } });
    const got: TermEvent[] = [];
    // (not counting `watching`, the sign that other processes now send this one the session's events)
    ws.on("message", (m) => JSON.parse(String(m)).kind !== "watching" && got.push(JSON.parse(String(m))));
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    await publishTerminalEvent(sql, other, { seq: 1, tMs: 1, kind: "term.o", payload: { ch: 0, d: "not this one" } });
    await publishTerminalEvent(sql, id, { seq: 1, tMs: 5, kind: "term.o", payload: { ch: 0, d: "live!" } });
    const deadline = Date.now() + 5_000;
    while (!got.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    expect(got).toEqual([{ seq: 1, tMs: 5, kind: "term.o", payload: { ch: 0, d: "live!" } }]);
  });

  it("flushes the recorder of a session live in this process, so the tail has its latest events", async () => {
    const token = await login(gh.url, "alice@example.test", "terminal-password-1");
    const client = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: "alice@example.test", password: token, ssl: false, max: 1, onnotice: () => {} });
    try {
      await client`select 1 as one`;
      const sessions = await apiCall(gh.url, tokens.alice, "GET", "/sessions?status=live&protocol=postgres");
      const id = sessions.body.sessions[0].id as string;
      // Recorded events reach the database in batches every 100 ms: ask right after a statement.
      await client`select 2 as two`;
      const res = await tail(id, tokens.alice);
      const [{ max }] = await sql`select max(seq)::int as max from session_events where session_id = ${id}`;
      expect(res.body.seq).toBe(max);
      const texts = await sql`select payload->>'text' as text from session_events where session_id = ${id} and kind = 'request' and seq <= ${res.body.seq}`;
      expect(texts.map((t) => t.text)).toContain("select 2 as two");
      expect(res.body.data).toBe("");
    } finally {
      await client.end();
    }
  });
});
