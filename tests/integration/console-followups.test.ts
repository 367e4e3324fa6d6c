import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { putPolicies } from "../support/api-fixture";
import { runCli } from "../support/cli";
import { consoleSignIn, consoleSignOut, expiringCopy } from "../support/console-cookie";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { appendTerminalEvents, endTerminalSession, insertTerminalSession, type TermEvent } from "../support/terminal-sessions";

/**
 * Follow-ups on the console, the REST API and the WebSockets, each tried for real against a
 * production build on PostgreSQL 15: console-cookie sockets outliving the cookie, its sign-out or
 * a change whose NOTIFY was lost; approval events reaching members who may not see the request;
 * replay windows a browser could keep serving after access was lost; paging parameters; names
 * with invisible characters. The test writes sessions and user rows straight into the database,
 * as another Gatehouse process (or an operator) on it would.
 */
describe("console follow-ups: sockets, approval events, replay cache, paging, names", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let sql: postgres.Sql;
  const SECRET = "console-followups-nextauth-secret-0123456789";
  const PASSWORD = "followups-password-1";
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    pg = await startPostgres15();
    gh = await startGatehouse({
      demo: false,
      env: { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 7).toString("base64"), NEXTAUTH_SECRET: SECRET, GATEHOUSE_POLICY_POLL_MS: "1000" },
    });
    sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [name, role, groups] of [["alice", "member", []], ["bob", "member", []], ["carol", "member", []], ["audrey", "auditor", []], ["april", "approver", ["approvers"]]] as const) {
      const email = `${name}@example.test`;
      const res = await apiCall(gh.url, tokens.admin, "POST", "/users", { email, password: PASSWORD, role, groups });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      ids[name] = res.body.user.id;
      tokens[name] = await login(gh.url, email, PASSWORD);
    }
    expect((await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "orders", type: "postgres", upstream: "postgres://127.0.0.1:1/orders", tags: ["prod"] })).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await teardown(gh, pg);
  });

  /** A socket, what it was sent, and how it closed. */
  const socket = (path: string, headers: Record<string, string>) => {
    const ws = new WebSocket(`${gh.url.replace(/^http/, "ws")}${path}`, { headers });
    const received: { topic?: string; data?: Record<string, any>; kind?: string }[] = [];
    ws.on("message", (d) => received.push(JSON.parse(d.toString())));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    const opened = new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once("error", reject);
    });
    return { ws, received, opened, closed };
  };
  const cookieHeaders = (header: string) => ({ cookie: header, origin: gh.url });
  const closedWithin = async (s: ReturnType<typeof socket>, ms: number) => {
    const r = await Promise.race([s.closed, new Promise<string>((r) => setTimeout(() => r(`still open after ${ms} ms`), ms))]);
    s.ws.terminate();
    return r;
  };

  let seq = 0;
  const ev = (kind: string, payload: Record<string, unknown>): TermEvent => ({ seq: ++seq, tMs: seq * 100, kind, payload });
  const terminalSession = async (owner: string, status: "live" | "ended") => {
    seq = 0;
    const id = await insertTerminalSession(sql, { userId: ids[owner], userEmail: `${owner}@example.test` });
    await appendTerminalEvents(sql, id, [
      ev("connect", { connection: "web-host" }),
      ev("term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm-256color" }),
      ev("term.o", { ch: 0, d: "$ cat secrets.txt\r\nthe launch code is 0000\r\n" }),
      ev("term.exit", { ch: 0, code: 0 }),
    ]);
    if (status === "ended") await endTerminalSession(sql, id);
    return id;
  };

  describe("WebSockets opened with a console cookie", () => {
    it("close when the cookie expires (token sockets already did; a cookie's socket stayed open for good)", async () => {
      const jar = await consoleSignIn(gh.url, "alice@example.test", PASSWORD);
      const short = await expiringCopy(jar, SECRET, 3);
      const events = socket("/ws/events", cookieHeaders(short.header));
      await events.opened;
      expect(await closedWithin(events, 12_000)).toEqual({ code: 4401, reason: "console session expired" });
      // The full-length cookie of the same sign-in is unaffected.
      const still = socket("/ws/events", cookieHeaders(jar.header));
      await still.opened;
      still.ws.close();
    }, 30_000);

    it("close on sign-out: the live view of a session and /ws/events", async () => {
      const id = await terminalSession("alice", "live");
      const jar = await consoleSignIn(gh.url, "alice@example.test", PASSWORD);
      const view = socket(`/ws/sessions/${id}`, cookieHeaders(jar.header));
      const events = socket("/ws/events", cookieHeaders(jar.header));
      await Promise.all([view.opened, events.opened]);
      expect(await consoleSignOut(gh.url, jar)).toBe(200);
      expect(await closedWithin(view, 5_000)).toMatchObject({ code: 4401 });
      expect(await closedWithin(events, 5_000)).toMatchObject({ code: 4401 });
      await expect(socket("/ws/events", cookieHeaders(jar.header)).opened).rejects.toThrow(/401/);
    });

    it("stay open when the user's groups change (the browser terminal lost its shell), close when the role does", async () => {
      const jar = await consoleSignIn(gh.url, "bob@example.test", PASSWORD);
      const events = socket("/ws/events", cookieHeaders(jar.header));
      const byToken = socket("/ws/events", { authorization: `Bearer ${tokens.bob}` });
      await Promise.all([events.opened, byToken.opened]);
      expect((await apiCall(gh.url, tokens.admin, "PATCH", `/users/${ids.bob}`, { groups: ["dba"] })).status).toBe(200);
      expect(await Promise.race([events.closed, byToken.closed, new Promise((r) => setTimeout(() => r("open"), 2_500))])).toBe("open");
      expect((await apiCall(gh.url, tokens.admin, "PATCH", `/users/${ids.bob}`, { role: "auditor" })).status).toBe(200);
      try {
        expect(await closedWithin(events, 5_000)).toMatchObject({ code: 4401 });
        expect(await closedWithin(byToken, 5_000)).toMatchObject({ code: 4401 });
      } finally {
        expect((await apiCall(gh.url, tokens.admin, "PATCH", `/users/${ids.bob}`, { role: "member", groups: [] })).status).toBe(200);
      }
    });

    it("close when the session version changes without a message reaching this process (a lost NOTIFY)", async () => {
      const jar = await consoleSignIn(gh.url, "carol@example.test", PASSWORD);
      const events = socket("/ws/events", cookieHeaders(jar.header));
      await events.opened;
      // As another process signing carol out everywhere would, minus its NOTIFY.
      await sql`update users set session_version = session_version + 1 where id = ${ids.carol}`;
      expect(await closedWithin(events, 8_000)).toMatchObject({ code: 4401 });
    });

    it("close when the role that let them in is taken away without a message: an auditor watching someone else's session", async () => {
      const id = await terminalSession("bob", "live");
      const jar = await consoleSignIn(gh.url, "audrey@example.test", PASSWORD);
      const view = socket(`/ws/sessions/${id}`, cookieHeaders(jar.header));
      await view.opened;
      await sql`update users set role = 'member' where id = ${ids.audrey}`;
      try {
        expect(await closedWithin(view, 8_000)).toMatchObject({ code: 4401 });
        await expect(socket(`/ws/sessions/${id}`, cookieHeaders(jar.header)).opened).rejects.toThrow(/403/);
      } finally {
        await sql`update users set role = 'auditor' where id = ${ids.audrey}`;
      }
    });
  });

  it("approval events reach the requester and those who may see the queue, not every member", async () => {
    const listeners = Object.fromEntries(["alice", "bob", "audrey", "april"].map((who) => [who, socket("/ws/events", { authorization: `Bearer ${tokens[who]}` })]));
    await Promise.all(Object.values(listeners).map((l) => l.opened));
    const asked = await apiCall(gh.url, tokens.alice, "POST", "/access-requests", { connection: "orders", durationSeconds: 600, reason: "INC-7 alice needs orders" });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    const id = asked.body.approval.id as number;
    const approvalTopics = (who: string) => listeners[who].received.filter((m) => m.topic?.startsWith("approval.")).map((m) => `${m.topic}:${m.data?.id}`);
    await expect.poll(() => approvalTopics("april"), { timeout: 5_000 }).toContain(`approval.created:${id}`);
    expect((await apiCall(gh.url, tokens.april, "POST", `/approvals/${id}/deny`, { comment: "not now" })).status).toBe(200);
    for (const who of ["alice", "april", "audrey"]) await expect.poll(() => approvalTopics(who), { timeout: 5_000 }).toEqual([`approval.created:${id}`, `approval.decided:${id}`]);
    // bob's socket got everything published meanwhile that he may see: nothing of alice's request.
    expect(approvalTopics("bob")).toEqual([]);
    // The REST rule it follows: bob cannot read it either.
    expect((await apiCall(gh.url, tokens.bob, "GET", `/approvals/${id}`)).status).toBe(404);
    for (const l of Object.values(listeners)) l.ws.close();
  });

  it("a finished replay window is re-authorized on every read: kept by the browser, never served from its cache without asking", async () => {
    const id = await terminalSession("bob", "ended");
    const auditor = await login(gh.url, "audrey@example.test", PASSWORD);
    const get = (path: string, token: string, headers: Record<string, string> = {}) => fetch(`${gh.url}/api/v1/sessions/${id}/${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
    expect((await get("replay?ch=0", auditor)).status).toBe(200);
    const window = await get("replay?ch=0&from=0&span=10000", auditor);
    expect(window.status).toBe(200);
    expect(JSON.stringify(await window.json())).toContain("launch code");
    // A browser may keep it, but must ask before each use (was: private, max-age=600).
    expect(window.headers.get("cache-control")).toBe("private, no-cache");
    const etag = window.headers.get("etag");
    expect(etag).toMatch(/^".+"$/);
    // Asking again costs a 304 while access lasts...
    const again = await get("replay?ch=0&from=0&span=10000", auditor, { "if-none-match": etag! });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    // ...another window is another tag, and so is the same window once output stored late (spooled
    // by a process killed mid-session) joins the recording...
    expect((await get("replay?ch=0&from=0&span=5000", auditor, { "if-none-match": etag! })).status).toBe(200);
    await appendTerminalEvents(sql, id, [{ seq: 5, tMs: 350, kind: "term.o", payload: { ch: 0, d: "late output\r\n" } }]);
    const grown = await get("replay?ch=0&from=0&span=10000", auditor, { "if-none-match": etag! });
    expect(grown.status).toBe(200);
    expect(grown.headers.get("etag")).not.toBe(etag);
    // ...and once access is gone, the answer is no, not "use what you have".
    expect((await apiCall(gh.url, tokens.admin, "PATCH", `/users/${ids.audrey}`, { role: "member" })).status).toBe(200);
    try {
      const refused = await get("replay?ch=0&from=0&span=10000", auditor, { "if-none-match": grown.headers.get("etag")! });
      expect(refused.status).toBe(404);
      expect(await refused.text()).not.toContain("launch code");
    } finally {
      expect((await apiCall(gh.url, tokens.admin, "PATCH", `/users/${ids.audrey}`, { role: "auditor" })).status).toBe(200);
    }
  });

  it("paging parameters are validated on every paged endpoint: 400 naming the parameter, never a 500 or a silent default", async () => {
    const id = await terminalSession("alice", "ended");
    const cases: [string, string][] = [];
    for (const bad of ["-1", "0", "1.5", "abc", "1e9", "", "99999999999999999999"]) {
      cases.push([`/sessions/${id}/events?limit=${bad}`, "limit"], [`/audit?limit=${bad}`, "limit"], [`/sessions?limit=${bad}`, "limit"], [`/approvals?limit=${bad}`, "limit"]);
    }
    for (const bad of ["-1", "2.5", "x", "1e400"]) cases.push([`/sessions/${id}/events?after=${bad}`, "after"]);
    for (const [path, param] of cases) {
      const res = await apiCall(gh.url, tokens.admin, "GET", path);
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      expect(res.body.error.code).toBe("INVALID");
      expect(res.body.error.message).toContain(param);
    }
    const events = await apiCall(gh.url, tokens.alice, "GET", `/sessions/${id}/events?after=1&limit=2`);
    expect(events.status).toBe(200);
    expect(events.body.events.map((e: { seq: number }) => e.seq)).toEqual([2, 3]);
    for (const ok of [`/audit?limit=1000`, `/sessions?limit=1000`, `/approvals?limit=500`, `/sessions/${id}/events?limit=5000`, `/audit`, `/sessions`]) {
      expect({ ok, status: (await apiCall(gh.url, tokens.admin, "GET", ok)).status }).toEqual({ ok, status: 200 });
    }
  });

  it("names with text-direction, zero-width or control characters are refused where they are made", async () => {
    const spoof = "deploy\u202e1yek\u202c";
    const refused = [
      await apiCall(gh.url, tokens.alice, "POST", "/tokens", { name: spoof, ttlSeconds: 3600 }),
      await apiCall(gh.url, tokens.alice, "POST", "/tokens", { name: "ci\u001b]8;;https://evil.example\u0007token", ttlSeconds: 3600 }),
      await apiCall(gh.url, tokens.alice, "POST", "/ssh-keys", { name: "lap\u200btop", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl laptop" }),
      // Without a name, the key's comment is its name: the same rule.
      await apiCall(gh.url, tokens.alice, "POST", "/ssh-keys", { publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@\u202elaptop" }),
      await apiCall(gh.url, tokens.admin, "POST", "/users", { email: "dan@example.test", name: "Dan \u2066admin\u2069", password: PASSWORD }),
      await apiCall(gh.url, tokens.admin, "PATCH", `/users/${ids.bob}`, { name: "Bob\u200f" }),
      await apiCall(gh.url, tokens.admin, "POST", "/masking", { name: "pii\u202e", detectors: ["email"], style: "redact" }),
    ];
    for (const res of refused) {
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.message).toMatch(/text-direction/);
    }
    // Other scripts are names like any other.
    const ok = await apiCall(gh.url, tokens.alice, "POST", "/tokens", { name: "מפתח-ci", ttlSeconds: 3600 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });

  it("the CLI shows control, bidi and zero-width characters from the server as visible tags: an approver reads what was asked", async () => {
    // The reason a requester writes reaches the approver's terminal through `approvals show`: a
    // carriage return and an erase-line sequence overwrote it with text of the requester's choice.
    const reason = "drop the orders table\r\u001b[2Kreason:      routine read-only check\u202e";
    const asked = await apiCall(gh.url, tokens.alice, "POST", "/access-requests", { connection: "orders", durationSeconds: 600, reason });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    const id = String(asked.body.approval.id);
    const show = await runCli(["approvals", "show", id], { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: tokens.april } });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(show.stdout).toContain("drop the orders table\\x0d\\x1b[2Kreason:      routine read-only check⟦U+202E⟧");
    // --json is data: the exact text, JSON-escaped.
    const json = await runCli(["approvals", "show", id, "--json"], { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: tokens.april } });
    expect(JSON.parse(json.stdout).approval.reason).toBe(reason);
    expect((await apiCall(gh.url, tokens.april, "POST", `/approvals/${id}/deny`, { comment: "no" })).status).toBe(200);
  }, 60_000);

  it("a token narrowed to some connections reads its own user's sessions only, even an admin's (it read anyone's by id)", async () => {
    const id = await terminalSession("bob", "ended");
    const scoped = await apiCall(gh.url, tokens.admin, "POST", "/tokens", { name: "ci-orders", ttlSeconds: 3600, connections: ["orders"] });
    expect(scoped.status, JSON.stringify(scoped.body)).toBe(200);
    const ci = scoped.body.token as string;
    // Its listing was already its own user's only; reading by id must agree with it.
    expect(((await apiCall(gh.url, ci, "GET", "/sessions")).body.sessions as { id: string }[]).map((s) => s.id)).not.toContain(id);
    for (const path of [`/sessions/${id}`, `/sessions/${id}/events`, `/sessions/${id}/replay?ch=0`, `/sessions/${id}/export?format=jsonl`, `/sessions/${id}/terminal?ch=0`]) {
      const res = await apiCall(gh.url, ci, "GET", path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(JSON.stringify(res.body)).not.toContain("launch code");
    }
    await expect(socket(`/ws/sessions/${id}`, { authorization: `Bearer ${ci}` }).opened).rejects.toThrow(/403/);
    // The admin's full token still reads it.
    expect((await apiCall(gh.url, tokens.admin, "GET", `/sessions/${id}`)).status).toBe(200);
  });

  it("policy text with text-direction or zero-width characters is refused on save and flagged while edited (Trojan Source)", async () => {
    const current = (await apiCall(gh.url, tokens.admin, "GET", "/policies")).body.policy as { version: number; text: string };
    // Reads as a comment ending the line; the forbid after it is code.
    const text = `${current.text}\n// lets everyone read \u202e} ;(ecruoser ,noitca ,lapicnirp)timrep\u2066\n`;
    const validated = await apiCall(gh.url, tokens.admin, "POST", "/policies/validate", { text });
    expect(validated.status).toBe(200);
    expect(validated.body.ok).toBe(false);
    const lines = text.split("\n").length - 1;
    expect(validated.body.errors[0]).toMatchObject({ severity: "error", line: lines, column: 23 });
    expect(validated.body.errors[0].message).toContain("U+202E");
    const saved = await apiCall(gh.url, tokens.admin, "PUT", "/policies", { text, comment: "innocent" });
    expect(saved.status).toBe(400);
    expect(saved.body.error.message).toMatch(/U\+202E.*line \d+, column 23/);
    expect((await apiCall(gh.url, tokens.admin, "GET", "/policies")).body.policy.version).toBe(current.version);
    // The same text without them saves.
    await putPolicies(gh, tokens.admin, `${current.text}\n// שלום: right-to-left letters are fine\n`, "rtl comment");
  });
});
