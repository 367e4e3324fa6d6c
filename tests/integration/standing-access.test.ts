import fs from "node:fs";
import net from "node:net";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { addConnection, pgUpstream } from "../support/api-fixture";
import { createDatabase, startPostgres15, type Postgres15 } from "../support/postgres";
import { freePort } from "../support/ports";
import { authOptions, COMMON_OPTIONS, spawnClient, ssh2Connect, ssh2Exec, startSsh, type SshTarget } from "../support/ssh-client";
import { stopClient, tcpTarget } from "../support/ssh-forward";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * What stays open after one decision — the session itself, a shell, a long-running exec — is
 * decided again when what it was decided on changes, and ends when policy no longer allows it:
 * a new policy version, a changed group membership, an edited connection, a revoked or expired
 * access grant, the clock. Real OpenSSH sshd and `ssh`, PostgreSQL 15 and postgres.js, through a
 * real Gatehouse process that stores into the same PostgreSQL (DATABASE_URL).
 */
const TEST_POLICIES = `${DEFAULT_POLICIES}
@id("ledger-oncall")
@reason("ledger is for on-call engineers")
forbid (principal, action == Gatehouse::Action::"connect", resource)
when { resource.tags.contains("oncall-only") }
unless { principal in Gatehouse::Group::"oncall" };

@id("jit")
@reason("this connection needs an access grant")
forbid (principal, action == Gatehouse::Action::"connect", resource)
when { resource.tags.contains("jit") && !context.grants.active };
`;

describe("standing access is decided again when its inputs change", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let pg: Postgres15;
  let storeUrl: string;
  const MEMBER = "oncall@example.test";
  const tokens = { admin: "", member: "", approver: "" };
  const target = (connection: string): SshTarget => ({ port: gh.ports.ssh, user: connection, password: tokens.member });

  async function setPolicies(text: string, comment: string) {
    const res = await apiCall(gh.url, tokens.admin, "PUT", "/policies", { text, comment });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.version as number;
  }
  async function liveSession(connection: string): Promise<Record<string, any>> {
    let live: Record<string, any> | undefined;
    await expect
      .poll(async () => (live = ((await apiCall(gh.url, tokens.admin, "GET", "/sessions?status=live")).body.sessions as Record<string, any>[]).find((s) => s.connectionName === connection)), { timeout: 10_000 })
      .toBeTruthy();
    return live!;
  }
  async function session(id: string): Promise<Record<string, any>> {
    return (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${id}`)).body.session;
  }
  async function revocations(id: string): Promise<Record<string, any>[]> {
    const events = (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${id}/events`)).body.events as Record<string, any>[];
    return events.filter((e) => e.kind === "revoked").map((e) => e.payload);
  }

  beforeAll(async () => {
    [sshd, pg] = await Promise.all([startSshd(), startPostgres15()]);
    // Gatehouse keeps its own data in a database of the same PostgreSQL (the scale-out setup):
    // the grant-expiry test shortens a grant there.
    storeUrl = await createDatabase(pg, "gh_store");
    gh = await startGatehouse({ demo: false, env: { DATABASE_URL: storeUrl, GATEHOUSE_RECHECK_INTERVAL_MS: "250" } });
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [key, email, role, groups] of [["member", MEMBER, "member", ["oncall"]], ["approver", "approver@example.test", "approver", ["approvers"]]] as const) {
      expect((await apiCall(gh.url, tokens.admin, "POST", "/users", { email, password: "a-long-password-1", role, groups })).status).toBe(200);
      tokens[key] = await login(gh.url, email, "a-long-password-1");
    }
    const ssh = { type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username: sshd.user, secret: sshd.password };
    for (const [name, extra] of [
      ["box", { ...ssh, tags: ["maint-box"] }],
      ["jitbox", { ...ssh, tags: ["jit"] }],
      ["timebox", { ...ssh, tags: ["timebox"] }],
      ["fwdbox", { ...ssh, tags: ["fwd-box"] }],
      ["ledger", { type: "postgres", upstream: `postgres://127.0.0.1:${pg.port}/postgres`, username: "postgres", secret: "gatehouse-test", tags: ["oncall-only"] }],
    ] as const) {
      const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name, ...extra });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    await setPolicies(TEST_POLICIES, "standing access test");
  }, 120_000);

  afterAll(async () => {
    if (process.env.GH_DEBUG) console.log(gh?.output());
    await gh?.stop();
    await Promise.all([sshd?.stop(), pg?.stop()]);
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it("a new policy version ends the shell it forbids, then the exec, and leaves the rest of the session alone", async () => {
    const client = await ssh2Connect(target("box"));
    const ssh = startSsh(target("box"), "sleep 60");
    try {
      const shell = await new Promise<import("ssh2").ClientChannel>((resolve, reject) => client.shell({ term: "xterm", cols: 80, rows: 24 }, (err, ch) => (err ? reject(err) : resolve(ch))));
      let shellErr = "";
      let shellOut = "";
      shell.stderr.on("data", (d: Buffer) => (shellErr += d));
      shell.on("data", (d: Buffer) => (shellOut += d));
      const shellExit = new Promise<number | null>((r) => shell.on("exit", (code: number | null) => r(code)));
      shell.write("echo shell-is-up\n");
      await expect.poll(() => shellOut, { timeout: 10_000 }).toContain("shell-is-up");
      const sleeper = await liveSessionRunning("sleep 60");

      const noShells = `${TEST_POLICIES}\n@id("no-shells") @reason("box is in maintenance")\nforbid (principal, action == Gatehouse::Action::"exec", resource)\nwhen { resource.tags.contains("maint-box") && context.request.kind == "interactive" };\n`;
      // previewed before saving: exactly the shell, nothing ended yet; admins only
      const preview = await apiCall(gh.url, tokens.admin, "POST", "/policies/impact", { text: noShells });
      expect(preview.body).toMatchObject({ ok: true, elsewhere: 0 });
      expect(preview.body.previewed).toBeGreaterThanOrEqual(2);
      expect(preview.body.items).toEqual([expect.objectContaining({ user: MEMBER, chain: [MEMBER], connection: "box", protocol: "ssh", what: "exec: shell", reason: "box is in maintenance" })]);
      expect((await apiCall(gh.url, tokens.member, "POST", "/policies/impact", { text: noShells })).status).toBe(403);
      expect((await apiCall(gh.url, tokens.admin, "POST", "/policies/impact", { text: "permit(" })).body).toMatchObject({ ok: false, items: [] });
      const v1 = await setPolicies(noShells, "no shells on box");
      expect(await shellExit).toBe(255);
      expect(shellErr).toMatch(/gatehouse: shell ended: policy no longer allows it \(box is in maintenance\)/);
      // the same SSH connection still runs what policy allows, and the other session's exec runs on
      const after = await ssh2Exec(client, "echo still-here");
      expect(await after.done).toBe(0);
      expect(after.stdout()).toBe("still-here\n");
      expect((await session(sleeper.id)).status).toBe("live");
      const shellSession = (await apiCall(gh.url, tokens.admin, "GET", "/sessions?status=live")).body.sessions.find((s: any) => s.connectionName === "box" && s.id !== sleeper.id);
      await expect.poll(() => revocations(shellSession.id)).toEqual([expect.objectContaining({ action: "exec", text: "shell", verdict: "deny", policies: ["no-shells"], reason: "box is in maintenance", cause: `policy version ${v1} was installed` })]);

      await setPolicies(`${TEST_POLICIES}\n@id("box-closed") @reason("box is closed")\nforbid (principal, action == Gatehouse::Action::"exec", resource)\nwhen { resource.tags.contains("maint-box") };\n`, "no exec on box");
      expect(await ssh.exited).toBe(255);
      expect(ssh.stderr()).toMatch(/gatehouse: exec ended: policy no longer allows it \(box is closed\)/);
      await expect.poll(() => revocations(sleeper.id)).toEqual([expect.objectContaining({ text: "sleep 60", reason: "box is closed" })]);
    } finally {
      client.end();
      ssh.child.kill();
      await setPolicies(TEST_POLICIES, "back to the test policies");
    }
  });

  /** The live session whose request was `command`. */
  async function liveSessionRunning(command: string): Promise<Record<string, any>> {
    let hit: Record<string, any> | undefined;
    await expect
      .poll(async () => {
        for (const s of (await apiCall(gh.url, tokens.admin, "GET", "/sessions?status=live")).body.sessions as Record<string, any>[]) {
          const events = (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${s.id}/events`)).body.events as Record<string, any>[];
          if (events.some((e) => e.kind === "request" && e.payload.text === command)) return (hit = s);
        }
        return undefined;
      }, { timeout: 10_000 })
      .toBeTruthy();
    return hit!;
  }

  it("removed from the group policy requires, a user's open PostgreSQL session ends with the policy's reason", async () => {
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "ledger", username: MEMBER, password: tokens.member, ssl: false, max: 1, onnotice: () => {} });
    try {
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      const live = await liveSession("ledger");
      expect((await apiCall(gh.url, tokens.admin, "PATCH", `/users/${MEMBER}`, { groups: [] })).status).toBe(200);
      await expect.poll(async () => (await session(live.id)).status, { timeout: 10_000 }).toBe("killed");
      expect((await session(live.id)).endReason).toBe("policy no longer allows this session: ledger is for on-call engineers");
      await expect.poll(() => revocations(live.id)).toEqual([expect.objectContaining({ action: "connect", policies: ["ledger-oncall"], cause: "the user's role or groups changed" })]);
      // the client learns it from the server (an error on its next statement, not a hang)
      await expect(sql`select 1`).rejects.toThrow();
      // and a new session is refused outright
      const again = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "ledger", username: MEMBER, password: tokens.member, ssl: false, max: 1, onnotice: () => {} });
      await expect(again`select 1`).rejects.toThrow(/ledger is for on-call engineers/);
      await again.end();
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
      await apiCall(gh.url, tokens.admin, "PATCH", `/users/${MEMBER}`, { groups: ["oncall"] });
    }
  });

  it("an open session is decided with its connection's tags as edited, and ends when they no longer let it in or the connection is deleted", async () => {
    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    await direct.unsafe("create table if not exists notes (t text)");
    await direct.end();
    for (const name of ["notes", "notes2"]) {
      await addConnection(gh, tokens.admin, name, { ...pgUpstream(pg), tags: ["staging"] });
    }
    const notices: string[] = [];
    const open = (db: string) => postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: db, username: MEMBER, password: tokens.member, ssl: false, max: 1, onnotice: (n) => notices.push(n.message) });
    const sql = open("notes");
    const other = open("notes2");
    try {
      await sql`insert into notes values ('before')`; // staging: writes allowed
      const live = await liveSession("notes");
      expect((await apiCall(gh.url, tokens.admin, "PATCH", "/connections/notes", { tags: ["prod"] })).status).toBe(200);
      await expect.poll(async () => ((await apiCall(gh.url, tokens.admin, "GET", `/sessions/${live.id}/events`)).body.events as Record<string, any>[]).some((e) => e.kind === "connection")).toBe(true);
      // prod: the same session's next write is held for an approver (shipped prod-write-approval)
      const held = sql`insert into notes values ('after')`.then(() => "ran", (err: Error) => err.message);
      await expect.poll(() => notices.join("\n"), { timeout: 10_000 }).toMatch(/held for approval #\d+/);
      // tagged "jit" without a grant: the session itself is no longer allowed
      expect((await apiCall(gh.url, tokens.admin, "PATCH", "/connections/notes", { tags: ["prod", "jit"] })).status).toBe(200);
      await expect.poll(async () => (await session(live.id)).status, { timeout: 10_000 }).toBe("killed");
      expect((await session(live.id)).endReason).toBe("policy no longer allows this session: this connection needs an access grant");
      await expect.poll(() => revocations(live.id)).toEqual([expect.objectContaining({ action: "connect", cause: "the connection changed", policies: ["jit"] })]);
      expect(await held).not.toBe("ran");

      await other`select 1`;
      const second = await liveSession("notes2");
      expect((await apiCall(gh.url, tokens.admin, "DELETE", "/connections/notes2")).status).toBe(200);
      await expect.poll(async () => (await session(second.id)).status, { timeout: 10_000 }).toBe("killed");
      expect((await session(second.id)).endReason).toBe("the connection was deleted");
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
      await other.end({ timeout: 1 }).catch(() => {});
    }
  });

  /** The member asks for access to `connection`, an approver approves: the grant. */
  async function grantFor(connection: string, reason: string): Promise<{ id: string }> {
    const waiting = apiCall(gh.url, tokens.member, "POST", "/access-requests", { connection, durationSeconds: 600, reason, wait: 20 });
    let pending: Record<string, any> | undefined;
    await expect
      .poll(async () => (pending = ((await apiCall(gh.url, tokens.approver, "GET", "/approvals?status=pending")).body.approvals as Record<string, any>[]).find((a) => a.reason === reason)), { timeout: 10_000 })
      .toBeTruthy();
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${pending!.id}/approve`, {})).status).toBe(200);
    const granted = await waiting;
    expect(granted.body.status).toBe("approved");
    return granted.body.grant;
  }

  it("revoking the access grant a session stands on ends it", async () => {
    expect((await startSsh(target("jitbox"), "true").exited)).not.toBe(0); // no grant: refused
    const grant = await grantFor("jitbox", "INC-9 disk full");
    const ssh = startSsh(target("jitbox"), "sleep 59");
    const live = await liveSessionRunning("sleep 59");
    expect((await apiCall(gh.url, tokens.approver, "DELETE", `/grants/${grant.id}`)).status).toBe(200);
    expect(await ssh.exited).toBe(255);
    expect(ssh.stderr()).toMatch(/gatehouse: session ended: policy no longer allows this session: this connection needs an access grant/);
    await expect.poll(() => revocations(live.id)).toEqual([expect.objectContaining({ action: "connect", cause: "an access grant was revoked", policies: ["jit"] })]);
  });

  it("an access grant running out ends the session standing on it", async () => {
    const grant = await grantFor("jitbox", "INC-10 short window");
    // Grants last at least a minute; shortened in the store to keep the test short.
    const store = postgres(storeUrl, { max: 1, onnotice: () => {} });
    await store`update access_grants set expires_at = now() + interval '5 seconds' where id = ${grant.id}`;
    await store.end();
    const ssh = startSsh(target("jitbox"), "sleep 58");
    const live = await liveSessionRunning("sleep 58");
    expect(await ssh.exited).toBe(255);
    expect(ssh.stderr()).toMatch(/gatehouse: session ended: policy no longer allows this session: this connection needs an access grant/);
    await expect.poll(() => revocations(live.id)).toEqual([expect.objectContaining({ action: "connect", cause: "an access grant expired", policies: ["jit"] })]);
  });

  it("a port forward policy stops allowing is closed, with the connection it carries", async () => {
    const echo = await tcpTarget({ echo: true });
    const local = await freePort();
    const permit = `${TEST_POLICIES}\n@id("fwd-ok")\npermit (principal, action == Gatehouse::Action::"forward", resource)\nwhen { resource.tags.contains("fwd-box") && context.request.text == "local 127.0.0.1:${echo.port}" };\n`;
    await setPolicies(permit, "a local forward allowed");
    const ssh = spawnClient("ssh", ["-p", String(gh.ports.ssh), ...COMMON_OPTIONS, ...authOptions(target("fwdbox")), "-N", "-L", `127.0.0.1:${local}:127.0.0.1:${echo.port}`, "fwdbox@127.0.0.1"], target("fwdbox"));
    try {
      let sock: net.Socket | null = null;
      for (let i = 0; !sock && i < 150; i++) {
        sock = await new Promise<net.Socket | null>((resolve) => {
          const c = net.connect(local, "127.0.0.1", () => resolve(c));
          c.once("error", () => resolve(null));
        });
        if (!sock) await new Promise((r) => setTimeout(r, 100));
      }
      expect(sock, "ssh -L never listened").toBeTruthy();
      let received = "";
      sock!.on("data", (d: Buffer) => (received += d));
      sock!.on("error", () => {});
      const closed = new Promise<void>((r) => sock!.once("close", () => r()));
      sock!.write("ping\n");
      await expect.poll(() => received).toBe("ping\n");
      const live = await liveSession("fwdbox");

      await setPolicies(TEST_POLICIES, "the forward no longer allowed");
      await closed;
      await expect.poll(() => revocations(live.id)).toEqual([expect.objectContaining({ action: "forward", text: `local 127.0.0.1:${echo.port}`, reason: expect.stringMatching(/no policy permits/) })]);
    } finally {
      await stopClient(ssh);
      await echo.close();
      await setPolicies(TEST_POLICIES, "back to the test policies");
    }
  });

  it("a remote forward (-R) policy stops allowing is taken down upstream, with the connections it carries", async () => {
    const echo = await tcpTarget({ echo: true });
    const permit = `${TEST_POLICIES}\n@id("rfwd-ok")\npermit (principal, action == Gatehouse::Action::"forward", resource)\nwhen { resource.tags.contains("fwd-box") && context.request.text like "remote 127.0.0.1:*" };\n`;
    await setPolicies(permit, "remote forwards allowed");
    // LogLevel INFO: ssh says which port the upstream allocated
    const options = COMMON_OPTIONS.map((o) => (o === "LogLevel=ERROR" ? "LogLevel=INFO" : o));
    const ssh = spawnClient("ssh", ["-p", String(gh.ports.ssh), ...options, ...authOptions(target("fwdbox")), "-N", "-o", "ExitOnForwardFailure=yes", "-R", `127.0.0.1:0:127.0.0.1:${echo.port}`, "fwdbox@127.0.0.1"], target("fwdbox"));
    let stderr = "";
    ssh.stderr!.on("data", (d) => (stderr += d));
    try {
      let port = 0;
      await expect.poll(() => (port = Number(/Allocated port (\d+)/.exec(stderr)?.[1] ?? 0)), { timeout: 15_000 }).toBeGreaterThan(0);
      // the upstream host's listener reaches the echo server through the client
      const sock = net.connect(port, "127.0.0.1");
      sock.on("error", () => {});
      let received = "";
      sock.on("data", (d: Buffer) => (received += d));
      const closed = new Promise<void>((r) => sock.once("close", () => r()));
      sock.write("pong\n");
      await expect.poll(() => received, { timeout: 10_000 }).toBe("pong\n");
      const live = await liveSession("fwdbox");

      await setPolicies(TEST_POLICIES, "remote forwards no longer allowed");
      await closed;
      await expect.poll(() => revocations(live.id)).toEqual([expect.objectContaining({ action: "forward", text: "remote 127.0.0.1:0" })]);
      // nothing listens upstream any more
      await expect
        .poll(() => new Promise<string>((resolve) => net.connect(port, "127.0.0.1").once("connect", function (this: net.Socket) { this.destroy(); resolve("listening"); }).once("error", () => resolve("refused"))))
        .toBe("refused");
    } finally {
      await stopClient(ssh);
      await echo.close();
      await setPolicies(TEST_POLICIES, "back to the test policies");
    }
  });

  it("policies that read the clock end what they stop allowing when the time comes", async () => {
    // Room for the policy PUT, an ssh login and the exec decision before the window closes, under load too.
    const closesAt = Math.floor(Date.now() / 1000) + 10;
    await setPolicies(`${TEST_POLICIES}\n@id("timebox-window") @reason("the change window closed")\nforbid (principal, action == Gatehouse::Action::"exec", resource)\nwhen { resource.tags.contains("timebox") && context.time.epoch >= ${closesAt} };\n`, "a change window");
    try {
      const ssh = startSsh(target("timebox"), "sleep 57");
      await liveSessionRunning("sleep 57"); // allowed and running while the window was open
      expect(Date.now() / 1000).toBeLessThan(closesAt);
      expect(await ssh.exited).toBe(255);
      const endedAt = Date.now() / 1000;
      expect(endedAt).toBeGreaterThanOrEqual(closesAt);
      expect(endedAt - closesAt).toBeLessThan(15); // when the window closed, not when `sleep 57` would have ended
      expect(ssh.stderr()).toMatch(/exec ended: policy no longer allows it \(the change window closed\)/);
    } finally {
      await setPolicies(TEST_POLICIES, "back to the test policies");
    }
  });
});
