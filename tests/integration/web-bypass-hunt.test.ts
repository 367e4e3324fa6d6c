import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addConnection, sshUpstream } from "../support/api-fixture";
import { consoleSignIn } from "../support/console-cookie";
import { startSsh, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * Bypass hunt on the console, the REST API and the WebSockets, each attack made for real against
 * a production build: the login page's redirect, sign-out, credentials in connection listings,
 * ids written in capitals, and sockets outliving their authorization. A real sshd is the upstream
 * where a live SSH session is needed.
 */
describe("web bypass hunt: console, REST API, WebSockets", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let admin: string;
  let member: string;
  const PASSWORD = "a-long-password-1";
  const ids: Record<string, string> = {};
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-web-hunt-"));

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse(), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "box", { ...sshUpstream(sshd), tags: ["staging"] });
    for (const [email, role] of [
      ["member@example.test", "member"],
      ["victim@example.test", "member"],
      ["out@example.test", "member"],
      ["admin2@example.test", "admin"],
    ] as const) {
      const res = await apiCall(gh.url, admin, "POST", "/users", { email, password: PASSWORD, role });
      expect(res.status).toBe(200);
      ids[email] = res.body.user.id;
    }
    member = await login(gh.url, "member@example.test", PASSWORD);
  }, 120_000);

  afterAll(async () => {
    await teardown(gh, sshd);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const ws = (path: string, headers: Record<string, string>) => {
    const socket = new WebSocket(`${gh.url.replace(/^http/, "ws")}${path}`, { headers });
    const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    const opened = new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      socket.once("error", reject);
    });
    return { socket, opened, closed };
  };

  it("the login page does not hand the browser a callbackUrl that leaves the site (/%09/evil is //evil to a browser)", async () => {
    // The browser drops tabs and newlines from URLs and reads "\" as "/": after sign-in the form
    // calls window.location.assign(callbackUrl), so each of these went to evil.example.
    for (const evil of ["/%09/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example", "/%09%5Cevil.example", "/..//evil.example"]) {
      const html = await (await fetch(`${gh.url}/login?callbackUrl=${evil}`)).text();
      // The prop in the page's RSC payload, JSON inside a JS string: unescape twice.
      const m = /callbackUrl\\":\\"((?:[^"\\]|\\\\.)*)\\"/.exec(html);
      expect(m, "callbackUrl prop in the page").not.toBeNull();
      const value = JSON.parse(`"${JSON.parse(`"${m![1]}"`)}"`) as string;
      const followed = new URL(value, gh.url);
      expect({ evil, origin: followed.origin }).toEqual({ evil, origin: gh.url });
    }
    const html = await (await fetch(`${gh.url}/login?callbackUrl=${encodeURIComponent("/sessions?status=live")}`)).text();
    expect(html).toContain("/sessions?status=live");
  });

  it("a console cookie stops working when its user signs out (a copy taken earlier is not good for 12 more hours)", async () => {
    const jar = await consoleSignIn(gh.url, "out@example.test", PASSWORD);
    expect(await meStatus(gh.url, jar.header)).toBe(200);
    const csrf = await (await fetch(`${gh.url}/api/auth/csrf`, { headers: { cookie: jar.header } })).json();
    const out = await fetch(`${gh.url}/api/auth/signout`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: jar.header },
      body: new URLSearchParams({ csrfToken: csrf.csrfToken, json: "true" }),
    });
    expect(out.status).toBe(200);
    expect(await meStatus(gh.url, jar.header)).toBe(401);
    // A fresh sign-in works, and signing out wrote an audit row.
    const again = await consoleSignIn(gh.url, "out@example.test", PASSWORD);
    expect(await meStatus(gh.url, again.header)).toBe(200);
    const audit = (await apiCall(gh.url, admin, "GET", "/audit?limit=50")).body.entries as { action: string; subject: string }[];
    expect(audit.some((e) => e.action === "auth.logout" && e.subject === "user:out@example.test")).toBe(true);
  });

  it("a password written into a connection's upstream URL is refused, so it never reaches members, agents or the audit log", async () => {
    const res = await apiCall(gh.url, admin, "POST", "/connections", { name: "pw-in-url", type: "postgres", upstream: "postgres://app:hunter2-upstream@10.9.8.7:5432/app", tags: [] });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain("hunter2-upstream");
    const listed = await apiCall(gh.url, member, "GET", "/connections");
    expect(JSON.stringify(listed.body)).not.toContain("hunter2-upstream");
    const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=200");
    expect(JSON.stringify(audit.body)).not.toContain("hunter2-upstream");
    // Editing one in later is refused too.
    const ok = await apiCall(gh.url, admin, "POST", "/connections", { name: "pw-later", type: "postgres", upstream: "postgres://10.9.8.7:5432/app" });
    expect(ok.status).toBe(200);
    expect((await apiCall(gh.url, admin, "PATCH", "/connections/pw-later", { upstream: "postgres://app:hunter2-upstream@10.9.8.7:5432/app" })).status).toBe(400);
    expect(JSON.stringify((await apiCall(gh.url, member, "GET", "/connections/pw-later")).body)).not.toContain("hunter2-upstream");
  });

  it("disabling a user by their id written in capitals ends their open console WebSockets (the id matched in SQL, not in the event)", async () => {
    const jar = await consoleSignIn(gh.url, "victim@example.test", PASSWORD);
    const live = ws("/ws/events", { cookie: jar.header, origin: gh.url });
    await live.opened;
    const res = await apiCall(gh.url, admin, "PATCH", `/users/${ids["victim@example.test"].toUpperCase()}`, { disabled: true });
    expect(res.status).toBe(200);
    const code = await Promise.race([live.closed, new Promise<string>((r) => setTimeout(() => r("still open after 10 s"), 10_000))]);
    live.socket.terminate();
    expect(code).toBe(4401);
    expect(res.body.id).toBe(ids["victim@example.test"]);
  });

  it("an admin cannot disable or demote themselves by writing their own id in capitals", async () => {
    const admin2 = await login(gh.url, "admin2@example.test", PASSWORD);
    const upper = ids["admin2@example.test"].toUpperCase();
    expect((await apiCall(gh.url, admin2, "PATCH", `/users/${upper}`, { role: "member" })).status).toBe(400);
    expect((await apiCall(gh.url, admin2, "PATCH", `/users/${upper}`, { disabled: true })).status).toBe(400);
    expect((await apiCall(gh.url, admin2, "GET", "/users")).status).toBe(200);
    expect((await apiCall(gh.url, admin, "PATCH", "/users/not-a-user-id", { name: "x" })).status).toBe(404);
  });

  it("a WebSocket opened with a short-lived agent token closes when the token expires", async () => {
    const agent = await exchangeToken(gh.url, member, "short-lived", { expires_in: "3" });
    const live = ws("/ws/events", { authorization: `Bearer ${agent.access_token}` });
    await live.opened;
    const code = await Promise.race([live.closed, new Promise<string>((r) => setTimeout(() => r("still open 15 s after the token expired"), 18_000))]);
    live.socket.terminate();
    expect(code).toBe(4401);
    // A new upgrade with it is refused, as before.
    await expect(ws("/ws/events", { authorization: `Bearer ${agent.access_token}` }).opened).rejects.toThrow(/401/);
  }, 40_000);

  it("killing a session by its id written in capitals ends it (the API said killed, and it ran on)", async () => {
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: gh.adminEmail, password: admin, ssl: false, max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      await sql`select 1`;
      const sessions = (await apiCall(gh.url, admin, "GET", "/sessions?status=live")).body.sessions as { id: string }[];
      expect(sessions).toHaveLength(1);
      const id = sessions[0].id;
      const res = await apiCall(gh.url, admin, "POST", `/sessions/${id.toUpperCase()}/kill`, { reason: "web bypass hunt" });
      expect(res.status).toBe(200);
      await expect.poll(async () => (await apiCall(gh.url, admin, "GET", `/sessions/${id}`)).body.session.status, { timeout: 10_000 }).not.toBe("live");
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  });

  it("removing an SSH key by its id written in capitals ends the live session that logged in with it", async () => {
    const file = path.join(tmp, "member-key");
    execFileSync("ssh-keygen", ["-q", "-N", "", "-t", "ed25519", "-C", "member@test", "-f", file]);
    const added = await apiCall(gh.url, member, "POST", "/ssh-keys", { name: "laptop", publicKey: fs.readFileSync(`${file}.pub`, "utf8") });
    expect(added.status).toBe(200);
    const keyTarget: SshTarget = { port: gh.ports.ssh, user: "box", identityFile: file };
    const { stderr, exited } = startSsh(keyTarget, "sleep 60");
    const liveSsh = async () => ((await apiCall(gh.url, admin, "GET", "/sessions?protocol=ssh&status=live")).body.sessions as unknown[]).length;
    await expect.poll(liveSsh, { timeout: 15_000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 300)); // the exec is running upstream
    const del = await apiCall(gh.url, member, "DELETE", `/ssh-keys/${(added.body.key.id as string).toUpperCase()}`);
    expect(del.status).toBe(200);
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running 15 s after its key was removed"), 15_000))]);
    expect(code).not.toBe("still running 15 s after its key was removed");
    expect(stderr()).toMatch(/the SSH key this session logged in with was removed/);
  }, 60_000);

  it("a member cannot use the policy simulator to find accounts or learn what another user's groups and grants allow", async () => {
    const sim = (token: string, principal: string) => apiCall(gh.url, token, "POST", "/policies/simulate", { principal, connection: "box", statement: "id" });
    // Before: 200 with the other user's verdict, and 404 "no user" for a missing account.
    const other = await sim(member, "admin2@example.test");
    const missing = await sim(member, "nobody@example.test");
    expect([other.status, missing.status]).toEqual([403, 403]);
    expect(other.body).toEqual(missing.body);
    expect((await sim(member, "MEMBER@example.test")).status).toBe(200);
    expect((await sim(admin, "member@example.test")).status).toBe(200);
  });

  it("an agent lists its own token and the ones it delegated, not its human's or a sibling agent's", async () => {
    const human = (await apiCall(gh.url, member, "POST", "/tokens", { name: "laptop", ttlSeconds: 7200 })).body.token as string;
    const claude = await exchangeToken(gh.url, human, "claude");
    const codex = await exchangeToken(gh.url, human, "codex");
    const researcher = await exchangeToken(gh.url, claude.access_token, "researcher");
    const listed = async (token: string) => ((await apiCall(gh.url, token, "GET", "/tokens")).body.tokens as { id: string }[]).map((t) => t.id).sort();
    expect(await listed(claude.access_token)).toEqual([claude.token_id, researcher.token_id].sort());
    expect(await listed(codex.access_token)).toEqual([codex.token_id]);
    // The human still sees all of them.
    expect(await listed(human)).toEqual(expect.arrayContaining([claude.token_id, codex.token_id, researcher.token_id]));
    // Not a token id: the same 404 as someone else's token (it was a 500).
    expect((await apiCall(gh.url, member, "DELETE", "/tokens/not-a-token-id")).status).toBe(404);
  });

  it("a delegated agent of the same user cannot resume its human's browser terminal with the resume token", async () => {
    const jar = await consoleSignIn(gh.url, "member@example.test", PASSWORD);
    const terminal = (query: string, headers: Record<string, string>) => {
      const socket = new WebSocket(`${gh.url.replace(/^http/, "ws")}/ws/terminal/box?${query}`, { headers });
      const got = { out: "", messages: [] as Record<string, any>[], closed: null as number | null };
      socket.on("message", (data, isBinary) => (isBinary ? (got.out += data.toString()) : got.messages.push(JSON.parse(data.toString()))));
      socket.on("close", (code) => (got.closed = code));
      socket.on("error", () => {});
      return { socket, got, opened: new Promise<void>((r) => socket.once("open", () => r())) };
    };
    const human = terminal("cols=80&rows=24", { cookie: jar.header, origin: gh.url });
    await human.opened;
    await expect.poll(() => human.got.messages.find((m) => m.type === "ready"), { timeout: 15_000 }).toBeTruthy();
    const { resumeToken } = human.got.messages.find((m) => m.type === "ready")!;
    human.socket.terminate(); // a dropped connection: the shell waits for its browser to come back

    const agent = await exchangeToken(gh.url, member, "helper");
    const stolen = terminal(`resume=${resumeToken}`, { authorization: `Bearer ${agent.access_token}` });
    await stolen.opened;
    await expect.poll(() => stolen.got.closed, { timeout: 10_000 }).toBe(4404);
    expect(stolen.got.messages.filter((m) => m.type === "ready")).toEqual([]);

    // The human's browser comes back with it.
    const back = terminal(`resume=${resumeToken}`, { cookie: jar.header, origin: gh.url });
    await back.opened;
    await expect.poll(() => back.got.messages.find((m) => m.type === "ready" && m.resumed), { timeout: 10_000 }).toBeTruthy();
    back.socket.send(JSON.stringify({ type: "close" }));
    back.socket.close();
  });


  it("the public endpoints refuse an oversized body as it arrives, not after holding all of it (or waiting forever for it)", async () => {
    for (const path of ["/api/v1/login", "/api/v1/token"]) {
      // Announced as 2 GB, never sent: answered at once rather than awaited.
      const announced = await rawRequest(gh.port, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n{"email":`, []);
      expect({ path, announced }).toEqual({ path, announced: 400 });
      // Chunked, 2 MiB and still coming: refused once past the limit.
      const chunk = "a".repeat(64 * 1024);
      const chunks = Array.from({ length: 32 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      const streamed = await rawRequest(gh.port, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, chunks);
      expect({ path, streamed }).toEqual({ path, streamed: 400 });
    }
  });

  it("an agent token gets from the REST API no more of a connection than MCP's list_connections gives it (no upstream, user name, options)", async () => {
    const agent = await exchangeToken(gh.url, member, "lister");
    const all = await apiCall(gh.url, agent.access_token, "GET", "/connections");
    const one = await apiCall(gh.url, agent.access_token, "GET", "/connections/box");
    expect([all.status, one.status]).toEqual([200, 200]);
    const box = (all.body.connections as Record<string, unknown>[]).find((c) => c.name === "box");
    for (const c of [box, one.body.connection]) {
      expect(c).toMatchObject({ name: "box", type: "ssh", tags: ["staging"] });
      expect(Object.keys(c!)).not.toEqual(expect.arrayContaining(["upstream"]));
      expect(JSON.stringify(c)).not.toContain(String(sshd.port));
      expect(JSON.stringify(c)).not.toContain(sshd.user);
    }
    // The person still sees where it points.
    expect((await apiCall(gh.url, member, "GET", "/connections/box")).body.connection.upstream).toBe(`ssh://127.0.0.1:${sshd.port}`);
  });

  it("the masking preview is no oracle for the hash tokens masked sessions show", async () => {
    const agent = await exchangeToken(gh.url, member, "hashed-reader");
    const connect = (password: string) => postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: "member@example.test", password, ssl: false, max: 1, onnotice: () => {}, connect_timeout: 10 });
    const [asAgent, asHuman] = [connect(agent.access_token), connect(member)];
    try {
      const hashed = (await asAgent`select email from customers order by id limit 1`)[0].email as string;
      const clear = (await asHuman`select email from customers order by id limit 1`)[0].email as string;
      expect(hashed).toMatch(/^h_[0-9a-f]+$/); // the default policies hash an agent's emails
      expect(clear).toContain("@");
      const preview = await apiCall(gh.url, member, "POST", "/masking/test", { text: clear, ruleSets: ["pii"] });
      expect(preview.status).toBe(200);
      expect(preview.body.masked).toMatch(/^h_[0-9a-f]+$/); // still shows what the style does…
      expect(preview.body.masked).not.toBe(hashed); // …but not the token to compare guesses with
    } finally {
      await Promise.all([asAgent.end({ timeout: 1 }), asHuman.end({ timeout: 1 })]).catch(() => {});
    }
  });

  it("a token narrowed to one connection and to reads cannot mint itself an unrestricted one (an admin's script token became an admin)", async () => {
    const narrowed = await apiCall(gh.url, admin, "POST", "/tokens", { name: "ci-read-only", ttlSeconds: 3600, connections: ["demo-postgres"], actions: ["read"] });
    expect(narrowed.status).toBe(200);
    const script = narrowed.body.token as string;
    expect((await apiCall(gh.url, script, "GET", "/users")).status).toBe(403);
    // Before: 200, a 30-day token for everything, and with it the whole admin API.
    expect((await apiCall(gh.url, script, "POST", "/tokens", { name: "escalated", connections: ["*"], actions: ["*"] })).status).toBe(403);
    expect((await apiCall(gh.url, script, "POST", "/tokens", { name: "escalated" })).status).toBe(403);
    expect((await apiCall(gh.url, script, "POST", "/tokens", { name: "x", connections: ["*"], actions: ["read"] })).status).toBe(403);
    expect((await apiCall(gh.url, script, "POST", "/tokens", { name: "x", connections: ["demo-postgres"], actions: ["write"] })).status).toBe(403);
    expect((await apiCall(gh.url, script, "POST", "/tokens", { name: "x", ttlSeconds: 7 * 24 * 3600, connections: ["demo-postgres"], actions: ["read"] })).status).toBe(403);
    // Nor any token within its scope: it would not be revoked with the script's (a leaked one would outlive it).
    expect((await apiCall(gh.url, script, "POST", "/tokens", { name: "inside" })).status).toBe(403);
    expect((await apiCall(gh.url, script, "POST", "/tokens", { name: "inside", ttlSeconds: 600, connections: ["demo-postgres"], actions: ["read"] })).status).toBe(403);
    // It manages its own branch only: it lists itself, and cannot revoke its user's other tokens.
    const laptop = await apiCall(gh.url, admin, "POST", "/tokens", { name: "admin-laptop", ttlSeconds: 3600 });
    expect(((await apiCall(gh.url, script, "GET", "/tokens")).body.tokens as { id: string }[]).map((t) => t.id)).toEqual([narrowed.body.id]);
    expect((await apiCall(gh.url, script, "DELETE", `/tokens/${laptop.body.id}`)).status).toBe(404);
    expect((await apiCall(gh.url, laptop.body.token, "GET", "/users")).status).toBe(200);
    // A plain login token still creates a long-lived personal token, as `gatehouse tokens create` does.
    expect((await apiCall(gh.url, admin, "POST", "/tokens", { name: "laptop", ttlSeconds: 30 * 24 * 3600 })).status).toBe(200);
  });
  // Last: before the fix it stalls the whole server for good.
  it("a member cannot stall the gateway with a backtracking regex in the masking preview", async () => {
    const rule = (over: Record<string, unknown>) => ({ style: "redact", regexes: [], detectors: [], columns: [], ...over });
    const attempts: [string, Record<string, unknown>][] = [
      ["(?:a|aa)+!", { text: "a".repeat(5000) + "b", rule: rule({ regexes: ["(?:a|aa)+!"] }) }],
      ["a*a*a*a*a*a*!", { text: "a".repeat(3000), rule: rule({ regexes: ["a*a*a*a*a*a*!"] }) }],
      ["(?=(a|a)*!)a", { text: "a".repeat(5000), rule: rule({ regexes: ["(?=(a|a)*!)a"] }) }],
      // A column glob was a case-insensitive regex: /^.*a.*a…b$/i, no linear-time fallback.
      ["column glob *a*a…*b", { text: "x", column: "t." + "a".repeat(190), rule: rule({ columns: ["*a".repeat(120) + "*b"] }) }],
    ];
    for (const [what, body] of attempts) {
      const preview = apiCall(gh.url, member, "POST", "/masking/test", body);
      const answered = await Promise.race([preview.then((r) => r.status), new Promise<string>((r) => setTimeout(() => r("no answer in 30 s"), 30_000))]);
      expect({ what, answered }).toEqual({ what, answered: expect.any(Number) });
      expect((await apiCall(gh.url, member, "GET", "/me")).status).toBe(200);
    }
    // A lookaround cannot fall back to the linear-time engine: refused, as a saved rule would be.
    const refused = await apiCall(gh.url, member, "POST", "/masking/test", { text: "x", rule: { style: "redact", regexes: ["(?=(a|a)*!)a"], detectors: [], columns: [] } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/linear time/);
  }, 150_000);
});

/**
 * Writes a request by hand (head, then body pieces, never finishing it) and resolves with the
 * status of the answer, or "no answer" if none came within 15 s while the body was still open.
 */
function rawRequest(port: number, head: string, pieces: string[]): Promise<number | string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let got = "";
    const done = (v: number | string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done("no answer in 15 s"), 15_000);
    socket.on("data", (d) => {
      got += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) done(Number(m[1]));
    });
    socket.on("error", () => done(got ? got.slice(0, 40) : "connection failed"));
    socket.write(head);
    for (const p of pieces) socket.write(p);
  });
}

/** GET /api/v1/me with a console cookie: 200 while the session is good. */
async function meStatus(url: string, cookie: string): Promise<number> {
  return (await fetch(`${url}/api/v1/me`, { headers: { cookie } })).status;
}
