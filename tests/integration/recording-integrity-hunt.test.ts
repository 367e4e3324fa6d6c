import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli";
import { consoleSignIn } from "../support/console-cookie";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addConnection, pgUpstream, sshUpstream } from "../support/api-fixture";
import { rawPgSession } from "../support/pg-wire-session";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { ssh2Connect, ssh2Exec } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { build } from "@/lib/gateway/protocols/postgres/wire";

/**
 * Can security trust the audit log and what the tools show of recordings? Attacks on the audit
 * chain, on what gets audited, and on the terminals of the people who read recordings, against a
 * real Gatehouse process (embedded database, demo upstream).
 */
describe("recording and audit integrity", () => {
  let gh: GatehouseProcess;
  let admin: string;
  let home: string;
  const MEMBER = "mallory@example.test";
  const MEMBER_PASSWORD = "mallory-password-1";
  let member: string;

  type AuditEntry = { seq: number; action: string; subject: string; actorEmail: string; detail: Record<string, unknown> };
  const auditSince = async (seq: number): Promise<AuditEntry[]> => {
    const res = await apiCall(gh.url, admin, "GET", "/audit?limit=1000");
    expect(res.status).toBe(200);
    return (res.body.entries as AuditEntry[]).filter((e) => e.seq > seq).reverse();
  };
  const headSeq = async () => {
    const res = await apiCall(gh.url, admin, "GET", "/audit?limit=1");
    return (res.body.entries as AuditEntry[])[0]?.seq ?? 0;
  };
  const verify = async () => (await apiCall(gh.url, admin, "GET", "/audit/verify")).body;

  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "gh-integrity-home-"));
    gh = await startGatehouse();
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: MEMBER, password: MEMBER_PASSWORD, role: "member" })).status).toBe(200);
    member = await login(gh.url, MEMBER, MEMBER_PASSWORD);
  }, 300_000);

  afterAll(async () => {
    await gh?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  describe("the audit chain", () => {
    it("a failed login whose email holds an unpaired surrogate is audited and leaves the chain verifiable", async () => {
      const before = await headSeq();
      // JSON.stringify writes the lone surrogate as \ud800: the server parses it back into one.
      const res = await fetch(`${gh.url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "\ud800evil@example.test", password: "x" }) });
      expect(res.status).toBe(401);
      const rows = await auditSince(before);
      expect(rows.map((r) => r.action)).toContain("auth.login_failed");
      // An anonymous caller must not be able to make `audit verify` report tampering.
      expect(await verify()).toMatchObject({ ok: true });
    });

    it("a refused token exchange is audited even when its scope smuggles NUL or an unpaired surrogate", async () => {
      const scoped = await apiCall(gh.url, member, "POST", "/tokens", { name: "scoped", ttlSeconds: 3600, connections: ["demo-postgres"] });
      expect(scoped.status).toBe(200);
      for (const poison of ["\u0000", "\udc00"]) {
        const before = await headSeq();
        const res = await fetch(`${gh.url}/api/v1/token`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: scoped.body.token, actor: "probe", scope: `connection:demo-postgres connection:prod${poison}` }),
        });
        expect(res.status).toBe(400);
        expect((await res.json()).error).toBe("invalid_scope");
        const refused = (await auditSince(before)).filter((r) => r.action === "token.exchange_refused");
        expect(refused).toHaveLength(1);
        expect(refused[0].subject).toBe(`user:${MEMBER}`);
        expect(String(refused[0].detail.reason)).toContain("prod");
      }
      expect(await verify()).toMatchObject({ ok: true });
    });
  });

  describe("what is audited", () => {
    it("a console sign-in with a password is audited like a CLI login", async () => {
      const before = await headSeq();
      await consoleSignIn(gh.url, MEMBER, MEMBER_PASSWORD);
      const logins = (await auditSince(before)).filter((r) => r.action === "auth.login");
      expect(logins).toHaveLength(1);
      expect(logins[0]).toMatchObject({ subject: `user:${MEMBER}`, actorEmail: MEMBER, detail: { via: "console" } });
    });

    it("a revoked, a forged and a malformed bearer token used on the REST API are audited, without the token", async () => {
      const made = await apiCall(gh.url, member, "POST", "/tokens", { name: "soon-revoked", ttlSeconds: 3600 });
      expect(made.status).toBe(200);
      expect((await apiCall(gh.url, member, "DELETE", `/tokens/${made.body.id}`)).status).toBe(200);
      const forged = `${member.slice(0, -6)}AAAAAA`;
      const before = await headSeq();
      for (const t of [made.body.token, forged, "not-a-token"]) expect((await apiCall(gh.url, t, "GET", "/me")).status).toBe(401);
      const failed = (await auditSince(before)).filter((r) => r.action === "api.auth_failed");
      expect(failed).toHaveLength(3);
      expect(failed[0]).toMatchObject({ subject: "api:/api/v1/me", detail: { protocol: "http", method: "GET" } });
      expect(String(failed[0].detail.reason)).toMatch(/revoked/);
      for (const row of failed) {
        expect(row.detail.address).toBe("127.0.0.1");
        const text = JSON.stringify(row);
        for (const t of [made.body.token, forged]) expect(text).not.toContain(t.slice(-20));
      }
      // A session cookie that is simply absent or expired is not an attack; only presented tokens count.
      const quiet = await headSeq();
      expect((await apiCall(gh.url, null, "GET", "/me")).status).toBe(401);
      expect(await headSeq()).toBe(quiet);
    });
  });

  describe("hostile text in what the CLI prints", () => {
    // OSC 52 (clipboard write), OSC 0 (title), DECRQSS and DA/DSR queries whose answers the terminal
    // types into its input, and an 8-bit CSI: a terminal must receive none of them from `gatehouse`.
    const HOSTILE = "ok\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07\x1b]0;pwned\x07\x1bP$q\"p\x1b\\\x1b[c\x1b[6n\x9b31m\u202eend";
    const inert = (text: string) => {
      expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
      expect(text).not.toContain("\u202e");
    };
    const cli = (token: string, args: string[]) => runCli(args, { env: { HOME: home, GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: token } });

    it("an approver's `approvals show` and `list` print a requester's reason as visible text", async () => {
      const asked = await apiCall(gh.url, member, "POST", "/access-requests", { connection: "demo-postgres", durationSeconds: 600, reason: HOSTILE });
      expect(asked.status).toBe(200);
      const id = String(asked.body.approval.id);
      const shown = await cli(admin, ["approvals", "show", id]);
      expect(shown.code).toBe(0);
      inert(shown.stdout);
      expect(shown.stdout).toContain("ok");
      expect(shown.stdout).toContain("end");
      expect(shown.stdout).toContain("]52;c;");
      const listed = await cli(admin, ["approvals", "list"]);
      expect(listed.code).toBe(0);
      inert(listed.stdout);
      // --json stays exact: machine readers get the text as it was sent.
      const json = await cli(admin, ["approvals", "show", id, "--json"]);
      expect(JSON.parse(json.stdout).approval.reason).toBe(HOSTILE);
    });

    it("`sessions show` prints a client-chosen application_name as visible text", async () => {
      const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: gh.adminEmail, password: admin, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: HOSTILE.replace("\x9b", "") } });
      try {
        await sql`select 1`;
      } finally {
        await sql.end();
      }
      const listed = await apiCall(gh.url, admin, "GET", "/sessions?protocol=postgres");
      const session = (listed.body.sessions as { id: string; applicationName: string }[]).find((s) => s.applicationName.startsWith("ok"));
      expect(session).toBeDefined();
      const shown = await cli(admin, ["sessions", "show", session!.id]);
      expect(shown.code).toBe(0);
      inert(shown.stdout);
      expect(shown.stdout).toContain("]0;pwned");
    });

    it("`audit export` to a terminal: audited text with C1 or invisible characters is \\u-escaped and parses back exactly", async () => {
      // Names people choose refuse such characters; what a failed login typed is audited as typed.
      const email = "t\u009b2j\u202e@example.test";
      expect((await apiCall(gh.url, null, "POST", "/login", { email, password: "wrong-password-1" })).status).toBe(401);
      const out = await cli(admin, ["audit", "export"]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e\u2028\u2029]/);
      const rows = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(rows.some((r) => r.action === "auth.login_failed" && JSON.stringify(r).includes(JSON.stringify(email).slice(1, -1)))).toBe(true);
    });

    it("an error message that echoes what the caller typed reaches stderr inert", async () => {
      const failed = await cli(member, ["access", "request", `x${HOSTILE}`, "--duration", "1h", "--reason", "r"]);
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toContain("no connection named");
      inert(failed.stderr);
    });
  });
});

/**
 * What recordings hold when a session does not end politely, and what they must not hold:
 * PostgreSQL 15 and OpenSSH's sshd upstream.
 */
describe("recording completeness against PostgreSQL 15 and sshd", () => {
  let pg: Postgres15;
  let sshd: Sshd;
  let gh: GatehouseProcess;
  let admin: string;
  let direct: postgres.Sql;

  type Event = { seq: number; kind: string; payload: Record<string, any> };
  const sessionNamed = async (app: string) => {
    let found: { id: string; status: string } | undefined;
    await expect
      .poll(async () => (found = ((await apiCall(gh.url, admin, "GET", "/sessions?connection=hunt-pg")).body.sessions as { id: string; status: string; applicationName: string }[]).find((s) => s.applicationName === app && s.status !== "live")), { timeout: 15_000 })
      .toBeTruthy();
    return found!;
  };
  const eventsOf = async (id: string): Promise<Event[]> => {
    const text = await fetch(`${gh.url}/api/v1/sessions/${id}/export?format=jsonl`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.text());
    return text.trim().split("\n").map((l) => JSON.parse(l));
  };
  /** ids of hunt-box sessions so far: the one a test opens is the one not among them */
  const boxSessions = async () => new Set(((await apiCall(gh.url, admin, "GET", "/sessions?connection=hunt-box")).body.sessions as { id: string }[]).map((x) => x.id));
  const endedBoxSessionAfter = async (before: Set<string>) => {
    let found: { id: string; status: string } | undefined;
    await expect
      .poll(async () => (found = ((await apiCall(gh.url, admin, "GET", "/sessions?connection=hunt-box")).body.sessions as { id: string; status: string }[]).find((x) => !before.has(x.id) && x.status !== "live")), { timeout: 15_000 })
      .toBeTruthy();
    return found!.id;
  };
  const client = (app: string) => postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "hunt-pg", username: gh.adminEmail, password: admin, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: app } });

  beforeAll(async () => {
    [gh, pg, sshd] = await Promise.all([startGatehouse({ demo: false }), startPostgres15(), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "hunt-pg", { ...pgUpstream(pg) });
    await addConnection(gh, admin, "hunt-box", { ...sshUpstream(sshd) });
    direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    await direct`create table hung (id int)`;
    await direct`create role probe login`;
  }, 120_000);

  afterAll(async () => {
    await direct?.end();
    await teardown(gh, pg, sshd);
  });

  it("a write whose client hangs up before the result still ran upstream, and the recording says its outcome was not seen", async () => {
    const raw = await rawPgSession(gh.ports.postgres, { user: gh.adminEmail, database: "hunt-pg", password: admin });
    raw.write(build.query("select pg_sleep(1); insert into hung values (1)"));
    // Hang up once it runs upstream: one that hangs up while its statement is still being decided
    // (catalog lookups, slower on a loaded CI machine than the 300 ms this waited) sent nothing.
    const running = async () => (await direct`select count(*)::int as n from pg_stat_activity where query like 'select pg_sleep(1); insert into hung%' and state = 'active'`)[0].n > 0;
    for (let i = 0; i < 200 && !(await running()); i++) await new Promise((r) => setTimeout(r, 20));
    raw.end();
    await expect.poll(async () => (await direct`select count(*)::int as n from hung`)[0].n, { timeout: 10_000 }).toBe(1);
    // the first session on hunt-pg (a raw client sends no application_name)
    const events = await eventsOf((await sessionNamed("")).id);
    const request = events.find((e) => e.kind === "request" && String(e.payload.text).includes("insert into hung"));
    expect(request?.payload.verdict).toBe("allow");
    const result = events.find((e) => e.kind === "result" && e.payload.requestSeq === request!.seq);
    expect(result, JSON.stringify(events.map((e) => e.kind))).toBeDefined();
    expect(result!.payload.incomplete).toMatch(/session ended before the upstream.s answer \(the client closed the connection\); the statement may have run/);
  });

  it("an error after some rows were sent is recorded with the rows and the error", async () => {
    const sql = client("midstream");
    await expect(sql.unsafe("select g / (3 - g) as v from generate_series(1, 5) g")).rejects.toThrow(/division by zero/);
    await sql.end();
    const events = await eventsOf((await sessionNamed("midstream")).id);
    const request = events.find((e) => e.kind === "request" && String(e.payload.text).includes("generate_series"));
    const result = events.find((e) => e.kind === "result" && e.payload.requestSeq === request?.seq);
    expect(result?.payload.error?.code).toBe("22012");
    expect(result?.payload.sample.rows, JSON.stringify(result)).toEqual([["0"], ["2"]]);
  });

  it("a 512 KiB statement is recorded whole", async () => {
    const big = "x".repeat(512 * 1024);
    const sql = client("huge-statement");
    expect((await sql.unsafe(`select length('${big}') as n`))[0].n).toBe(big.length);
    await sql.end();
    const events = await eventsOf((await sessionNamed("huge-statement")).id);
    const request = events.find((e) => e.kind === "request" && String(e.payload.text).startsWith("select length"));
    expect(String(request?.payload.text).length).toBe(big.length + "select length('') as n".length);
  });

  it("exports written to a terminal carry no raw C1 control or invisible character, and parse back to the exact output", async () => {
    // a host prints an 8-bit CSI (U+009B, a control to terminals that decode UTF-8 C1) and a bidi override
    const before = await boxSessions();
    const ssh = await ssh2Connect({ port: gh.ports.ssh, user: "hunt-box", password: admin });
    try {
      const run = await ssh2Exec(ssh, "printf 'a\\302\\2332J\\342\\200\\256b'");
      expect(await run.done).toBe(0);
      expect(run.stdout()).toBe("a\u009b2J\u202eb");
    } finally {
      ssh.end();
    }
    const id = await endedBoxSessionAfter(before);
    const cliHome = fs.mkdtempSync(path.join(os.tmpdir(), "gh-integrity-cli-"));
    try {
      const env = { HOME: cliHome, GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: admin };
      for (const format of ["asciicast", "jsonl"]) {
        const out = await runCli(["sessions", "export", id, "--format", format], { env });
        expect(out.code, out.stderr).toBe(0);
        expect(out.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e\u2028\u2029]/);
        const printed = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
        const data = format === "asciicast" ? printed.filter((e) => Array.isArray(e) && e[1] === "o").map((e) => e[2]).join("") : printed.filter((e) => e.kind === "term.o").map((e) => e.payload.d ?? "").join("");
        expect(data).toContain("a\u009b2J\u202eb");
      }
    } finally {
      fs.rmSync(cliHome, { recursive: true, force: true });
    }
  });

  it("an SSH exec whose client disconnects mid-command is recorded with what became of it", async () => {
    const before = await boxSessions();
    const ssh = await ssh2Connect({ port: gh.ports.ssh, user: "hunt-box", password: admin });
    const run = await ssh2Exec(ssh, "echo started; sleep 1; echo finished");
    await expect.poll(() => run.stdout(), { timeout: 10_000 }).toContain("started");
    ssh.end();
    const id = await endedBoxSessionAfter(before);
    await new Promise((r) => setTimeout(r, 1500));
    const events = await eventsOf(id);
    const request = events.find((e) => e.kind === "request" && e.payload.text === "echo started; sleep 1; echo finished");
    expect(request?.payload.verdict).toBe("allow");
    const kinds = events.map((e) => e.kind);
    expect(events.find((e) => e.kind === "result" && e.payload.requestSeq === request!.seq), JSON.stringify(kinds)).toBeDefined();
    expect(kinds.indexOf("end"), JSON.stringify(events.map((e) => [e.seq, e.kind, e.payload]))).toBe(kinds.length - 1);
  });

  it("psql's \\password typed in an SSH shell: neither the password nor its confirmation reaches the recording", async () => {
    const SECRET = "Typed-s3cret-7791";
    const before = await boxSessions();
    const ssh = await ssh2Connect({ port: gh.ports.ssh, user: "hunt-box", password: admin });
    let screen = "";
    const channel = await new Promise<import("ssh2").ClientChannel>((resolve, reject) => ssh.shell({ term: "xterm", cols: 120, rows: 40 }, (err, ch) => (err ? reject(err) : resolve(ch))));
    channel.on("data", (d: Buffer) => (screen += d.toString("utf8")));
    const waitFor = async (re: RegExp) => {
      await expect.poll(() => re.test(screen), { timeout: 15_000, message: `waiting for ${re} on ${JSON.stringify(screen.slice(-300))}` }).toBe(true);
      screen = "";
    };
    // one keystroke at a time, as a person types (the recorder sees each as its own input event)
    const type = async (text: string) => {
      for (const c of text) {
        channel.write(c);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    try {
      await type(`PGPASSWORD=gatehouse-test psql -h 127.0.0.1 -p ${pg.port} -U postgres postgres\r`);
      await waitFor(/postgres=# $/);
      await type("\\password probe\r");
      await waitFor(/Enter new password for user "probe": $/);
      await type(`${SECRET}\r`);
      await waitFor(/Enter it again: $/);
      await type(`${SECRET}\r`);
      await waitFor(/postgres=# $/);
      await type("\\q\r");
      await waitFor(/~\$ /);
      const closed = new Promise((r) => channel.once("close", r));
      await type("exit\r");
      await closed;
    } finally {
      ssh.end();
    }
    // it ran: the role now logs in with the password typed
    const asProbe = postgres({ host: "127.0.0.1", port: pg.port, database: "postgres", username: "probe", password: SECRET, max: 1, onnotice: () => {} });
    expect((await asProbe`select current_user as u`)[0].u).toBe("probe");
    await asProbe.end();
    const events = await eventsOf(await endedBoxSessionAfter(before));
    const all = JSON.stringify(events);
    expect(all).toContain("\\\\password probe");
    expect(all).not.toContain(SECRET);
    const b64 = events.filter((e) => typeof e.payload?.b64 === "string").map((e) => Buffer.from(e.payload.b64, "base64").toString("latin1")).join("");
    expect(b64).not.toContain(SECRET);
    expect(events.filter((e) => e.kind === "term.i" && e.payload?.hidden).length).toBe(2);
  });
});

/**
 * Two processes on one DATABASE_URL append to one chain: none may claim another's predecessor.
 * And what the embedded database forgives, PostgreSQL may not: failed logins there.
 */
describe("the audit chain with two writers on a shared PostgreSQL 15", () => {
  let pg: Postgres15;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  let ta: string;
  let tb: string;

  beforeAll(async () => {
    pg = await startPostgres15();
    const env = { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 9).toString("base64") };
    [a, b] = await Promise.all([startGatehouse({ env }), startGatehouse({ env, demo: false })]);
    [ta, tb] = await Promise.all([login(a.url, a.adminEmail, a.adminPassword), login(b.url, b.adminEmail, b.adminPassword)]);
    // The outage tests below run a session on the demo upstream: say why if it did not start
    // (one CI run found no "demo-postgres" connection here, with nothing else to go on).
    const names = ((await apiCall(a.url, ta, "GET", "/connections")).body.connections as { name: string }[]).map((c) => c.name);
    if (!names.includes("demo-postgres")) throw new Error(`process a has no demo-postgres connection (${names.join(", ")}); its output:\n${a.output()}`);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await pg?.stop();
    for (const p of [a, b]) if (p) fs.rmSync(p.dataDir, { recursive: true, force: true });
  });

  it("concurrent audited writes from both processes leave one unbroken chain", async () => {
    const before = (await apiCall(a.url, ta, "GET", "/audit/verify")).body;
    expect(before).toMatchObject({ ok: true });
    const N = 30;
    const writes: Promise<{ status: number }>[] = [];
    for (let i = 0; i < N; i++) {
      writes.push(apiCall(a.url, ta, "POST", "/tokens", { name: `a-${i}`, ttlSeconds: 600 }));
      writes.push(apiCall(b.url, tb, "POST", "/tokens", { name: `b-${i}`, ttlSeconds: 600 }));
      // failed logins audit outside any other transaction, on the same lock (10: under the per-address limit)
      if (i % 3 === 0) writes.push(fetch(`${(i % 2 ? a : b).url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: `nobody-${i}@example.test`, password: "wrong-password" }) }));
    }
    const statuses = (await Promise.all(writes)).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(2 * N);
    expect(statuses.filter((s) => s === 401), JSON.stringify(statuses)).toHaveLength(N / 3);
    for (const [gh, token] of [[a, ta], [b, tb]] as const) {
      const after = (await apiCall(gh.url, token, "GET", "/audit/verify")).body;
      expect(after).toMatchObject({ ok: true, rows: before.rows + 2 * N + N / 3 });
    }
  });

  it("failed logins are answered 401, audited, and throttled across both processes", async () => {
    const attempt = (gh: GatehouseProcess, password: string) =>
      fetch(`${gh.url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: a.adminEmail, password }) }).then((r) => r.status);
    const failed: number[] = [];
    for (let i = 0; i < 5; i++) failed.push(await attempt(i % 2 ? a : b, `wrong-${i}`));
    expect(failed).toEqual([401, 401, 401, 401, 401]);
    // the account is locked now, in both processes, even for the right password
    expect(await attempt(b, a.adminPassword)).toBe(429);
    expect(await attempt(a, a.adminPassword)).toBe(429);
    const audit = (await apiCall(a.url, ta, "GET", "/audit?limit=50")).body.entries as { action: string; subject: string; detail: Record<string, unknown> }[];
    const audited = audit.filter((e) => e.action === "auth.login_failed" && e.subject === `user:${a.adminEmail}`);
    // guessing on against a locked account is what security most needs to see
    expect(audited).toHaveLength(7);
    expect(audited.filter((e) => e.detail.locked === true)).toHaveLength(2);
  });

  it("recorded events the database refuses while it is down are kept out of the log", async () => {
    const VALUE = "row-value-only-the-recording-may-hold-5531";
    const sql = postgres({ host: "127.0.0.1", port: a.ports.postgres, database: "demo-postgres", username: a.adminEmail, password: ta, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: "outage-log" } });
    try {
      expect((await sql`select 1 as v`)[0].v).toBe(1);
      await pg.down();
      expect((await sql.unsafe(`select '${VALUE}' as v`))[0].v).toBe(VALUE);
      // The statement and its sampled row are queued now: every write attempt from here on holds
      // them, fails, and is logged.
      const failures = () => a.output().match(/\[recorder\] session [0-9a-f-]+: write failed/g)?.length ?? 0;
      const before = failures();
      await expect.poll(failures, { timeout: 15_000 }).toBeGreaterThan(before);
      await pg.up();
      await expect.poll(async () => (await apiCall(a.url, ta, "GET", "/sessions?limit=5")).status, { timeout: 60_000, interval: 1000 }).toBe(200);
    } finally {
      await sql.end({ timeout: 1 });
    }
    expect(a.output()).not.toContain(VALUE);
  });

  it("a session that ends while the database is down is marked ended once it returns, saying what was lost", async () => {
    const sql = postgres({ host: "127.0.0.1", port: a.ports.postgres, database: "demo-postgres", username: a.adminEmail, password: ta, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: "ends-in-outage" } });
    expect((await sql`select 1 as v`)[0].v).toBe(1);
    const closeFailures = () => a.output().match(/could not close session/g)?.length ?? 0;
    const before = closeFailures();
    await pg.down();
    try {
      await sql.end({ timeout: 1 });
      // the recorder gives up after 5 s without progress; then the session row cannot be written
      await expect.poll(closeFailures, { timeout: 30_000, interval: 500 }).toBeGreaterThan(before);
    } finally {
      await pg.up();
    }
    let found: { status: string; endReason: string | null } | undefined;
    await expect
      .poll(
        async () => {
          const res = await apiCall(a.url, ta, "GET", "/sessions?limit=50");
          found = res.status === 200 ? (res.body.sessions as { applicationName: string; status: string; endReason: string | null }[]).find((x) => x.applicationName === "ends-in-outage") : undefined;
          return found?.status;
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toBe("ended");
    expect(found!.endReason).toMatch(/events could not be recorded/);
  }, 120_000);
});
