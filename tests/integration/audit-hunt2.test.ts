import fs from "node:fs";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENESIS_HASH, hashAuditRow, type AuditRow } from "@/lib/services/audit/chain";
import { jsonOf, runCli } from "../support/cli";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { appendTerminalEvents, endTerminalSession, insertTerminalSession, type TermEvent } from "../support/terminal-sessions";
import { castOutput, playInTerminal } from "../support/viewer-terminal";

/**
 * Audit and recording integrity, round 2: a chain someone with write access to the database
 * recomputes, a process started with another audit key, refusal counts held in memory when the
 * process stops. A real Gatehouse on PostgreSQL 15, the real `gatehouse` CLI, tampering done with
 * SQL as such a person would.
 */
type Row = Record<string, any>;
const WINDOW_MS = 60_000;
const BURST = 2;

describe("the keyed audit chain, on PostgreSQL 15", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let sql: postgres.Sql;
  let admin: string;
  const env = () => ({ DATABASE_URL: pg.url, GATEHOUSE_AUTH_FAILURE_WINDOW_MS: String(WINDOW_MS), GATEHOUSE_AUTH_FAILURE_BURST: String(BURST), GATEHOUSE_AUTH_FAILURE_FLUSH_MS: "3600000" });
  const verify = async () => {
    const run = await runCli(["audit", "verify", "--json"], { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: admin } });
    return { ...run, verdict: jsonOf(run.stdout) };
  };
  const rows = async () => (await sql`select seq::int as seq, at, actor_id as "actorId", actor_email as "actorEmail", action, subject, detail, prev_hash as "prevHash", hash from audit_log order by seq`) as unknown as AuditRow[];
  /** Rewrites rows as they are (edited or not) with links recomputed the only way one can without the key. */
  const relinkUnkeyed = async (all: AuditRow[]) => {
    let prev = GENESIS_HASH;
    await sql.begin(async (tx) => {
      await tx`delete from audit_log`;
      for (const [i, r] of all.entries()) {
        const row = { ...r, seq: i + 1 };
        const hash = hashAuditRow(prev, row);
        await tx`insert into audit_log (seq, at, actor_id, actor_email, action, subject, detail, prev_hash, hash)
          values (${row.seq}, ${row.at}, ${row.actorId}, ${row.actorEmail}, ${row.action}, ${row.subject}, ${tx.json(row.detail as never)}, ${prev}, ${hash})`;
        prev = hash;
      }
    });
  };
  const restore = async (all: AuditRow[]) =>
    sql.begin(async (tx) => {
      await tx`delete from audit_log`;
      for (const r of all)
        await tx`insert into audit_log (seq, at, actor_id, actor_email, action, subject, detail, prev_hash, hash)
          values (${r.seq}, ${r.at}, ${r.actorId}, ${r.actorEmail}, ${r.action}, ${r.subject}, ${tx.json(r.detail as never)}, ${r.prevHash}, ${r.hash})`;
    });

  beforeAll(async () => {
    pg = await startPostgres15();
    sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    // A log as a Gatehouse from before keyed links left it: its start writes rows, which are then
    // relinked with the plain hashes the older version wrote.
    const old = await startGatehouse({ demo: false, env: env() });
    admin = await login(old.url, old.adminEmail, old.adminPassword);
    await old.stop();
    await relinkUnkeyed((await rows()).filter((r) => r.action !== "audit.chain_keyed"));
    // nor did the older version leave a note in its data dir that the log was keyed
    fs.rmSync(`${old.dataDir}/audit-keyed.json`);
    gh = await startGatehouse({ demo: false, dataDir: old.dataDir, env: env() });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
  }, 180_000);

  afterAll(async () => {
    await sql?.end();
    await gh?.stop();
    await pg?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it("a log from before the switch keeps verifying: its rows as they were, then the switch row, then keyed rows", async () => {
    const all = await rows();
    const switchRow = all.find((r) => r.action === "audit.chain_keyed")!;
    expect(switchRow, JSON.stringify(all.map((r) => r.action))).toBeDefined();
    expect(switchRow.seq).toBeGreaterThan(1);
    expect(switchRow.detail).toMatchObject({ keyId: expect.stringMatching(/^[0-9a-f]{16}$/), scheme: "hmac-sha256" });
    // the rows before it are the old plain hashes, the ones after are not
    expect(all[switchRow.seq - 2].hash).toBe(hashAuditRow(all[switchRow.seq - 2].prevHash, all[switchRow.seq - 2]));
    const last = all[all.length - 1];
    expect(last.seq).toBeGreaterThan(switchRow.seq);
    expect(last.hash).not.toBe(hashAuditRow(last.prevHash, last));
    const v = await verify();
    expect(v.code, v.stderr).toBe(0);
    expect(v.verdict).toMatchObject({ ok: true, rows: all.length, keyedFrom: switchRow.seq, head: last.hash });
  });

  it("a row edited and the whole chain recomputed with SQL fails verification", async () => {
    const all = await rows();
    try {
      const target = all.findIndex((r) => r.action === "auth.login");
      expect(target).toBeGreaterThan(-1);
      const edited = all.map((r, i) => (i === target ? { ...r, actorEmail: "someone-else@example.test" } : r));
      await relinkUnkeyed(edited);
      let v = await verify();
      expect(v.code).toBe(1);
      expect(v.verdict).toMatchObject({ ok: false });
      // without its switch row too: a log with a key configured and no keyed row is rewritten
      await relinkUnkeyed(edited.filter((r) => r.action !== "audit.chain_keyed"));
      v = await verify();
      expect(v.code).toBe(1);
      expect(v.verdict).toMatchObject({ ok: false, problem: expect.stringContaining("no row of the log is keyed") });
      expect(v.stderr).toMatch(/audit chain broken/);
    } finally {
      await restore(all);
    }
    expect((await verify()).verdict).toMatchObject({ ok: true });
  });

  it("verify --head with a head printed earlier shows the newest rows cut off, which the links alone cannot", async () => {
    const all = await rows();
    const earlier = (await verify()).verdict.head as string;
    try {
      expect(all[all.length - 1].action).not.toBe("audit.chain_keyed");
      await sql`delete from audit_log where seq = ${all.length}`;
      expect((await verify()).verdict).toMatchObject({ ok: true });
      const run = await runCli(["audit", "verify", "--head", earlier], { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: admin } });
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(`the earlier head ${earlier} is not in the log`);
    } finally {
      await restore(all);
    }
    const run = await runCli(["audit", "verify", "--head", earlier], { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: admin } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/audit chain intact: \d+ rows, head [0-9a-f]{64} \(keyed from row \d+\)/);
  });

  it("a process without the log's key refuses to start and says why; nothing is written with the wrong key", async () => {
    const before = (await rows()).length;
    // another data dir: its own master key, so another derived audit key (the key "missing")
    const other = fs.mkdtempSync(`${gh.dataDir}-other`);
    try {
      await expect(startGatehouse({ demo: false, dataDir: other, env: env() })).rejects.toThrow(/cannot write the audit log: the audit log is keyed .* GATEHOUSE_AUDIT_KEY/s);
      await expect(startGatehouse({ demo: false, dataDir: other, env: { ...env(), GATEHOUSE_AUDIT_KEY: Buffer.alloc(32, 1).toString("base64") } })).rejects.toThrow(/audit key [0-9a-f]{16}, but this process's key is [0-9a-f]{16}/);
      await expect(startGatehouse({ demo: false, dataDir: other, env: { ...env(), GATEHOUSE_AUDIT_KEY: "c2hvcnQ=" } })).rejects.toThrow(/GATEHOUSE_AUDIT_KEY must be at least 32 bytes/);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
    expect((await rows()).length).toBe(before);
    expect((await verify()).verdict).toMatchObject({ ok: true });
  }, 120_000);

  it("a log stripped of its keyed rows and relinked unkeyed is not keyed afresh: audited changes fail while it runs, and the next start refuses", async () => {
    const all = await rows();
    try {
      await relinkUnkeyed(all.filter((r) => r.action !== "audit.chain_keyed"));
      const stripped = (await rows()).length;
      const res = await apiCall(gh.url, admin, "POST", "/tokens", { name: "during-rewrite", ttlSeconds: 600 });
      expect(res.status).not.toBe(200);
      expect((await rows()).length).toBe(stripped);
      expect((await sql`select count(*)::int as n from tokens where name = 'during-rewrite'`)[0].n).toBe(0);
      expect((await verify()).code).toBe(1);
      await gh.stop();
      await expect(startGatehouse({ demo: false, dataDir: gh.dataDir, env: env() })).rejects.toThrow(/the audit log was keyed from row \d+, but it has no keyed row now/);
      expect((await rows()).length).toBe(stripped);
    } finally {
      await gh.stop();
      await restore(all);
      gh = await startGatehouse({ demo: false, dataDir: gh.dataDir, env: env() });
      admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    }
    expect((await verify()).verdict).toMatchObject({ ok: true });
  }, 120_000);

  it("SIGTERM during a flood of failed authentications: the counts still in their window are written before the process exits", async () => {
    const seqBefore = Number((await sql`select max(seq) as s from audit_log`)[0].s);
    let answered = 0;
    for (let i = 0; i < 30; i++) if ((await apiCall(gh.url, `not-a-token-${i}`, "GET", "/sessions")).status === 401) answered++;
    // the flood goes on while the process is told to stop
    let flooding = true;
    const flood = (async () => {
      for (let i = 0; flooding && i < 500; i++) {
        const status = await apiCall(gh.url, `still-not-a-token-${i}`, "GET", "/sessions").then((r) => r.status, () => 0);
        if (status === 401) answered++;
        else if (status === 0) return;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    expect(await gh.stop("SIGTERM")).toBe(0);
    flooding = false;
    await flood;
    const failed = (await sql`select detail from audit_log where seq > ${seqBefore} and action = 'api.auth_failed' order by seq`) as Row[];
    const counted = failed.reduce((n, r) => n + (typeof r.detail.repeated === "number" ? r.detail.repeated : 1), 0);
    expect(failed.filter((r) => r.detail.repeated).length).toBeGreaterThan(0);
    expect(counted, JSON.stringify(failed)).toBeGreaterThanOrEqual(answered);
    expect(answered).toBeGreaterThan(30);
    // the log still verifies, with the key the next start uses
    gh = await startGatehouse({ demo: false, dataDir: gh.dataDir, env: env() });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await verify()).verdict).toMatchObject({ ok: true });
  }, 120_000);

  it("a process killed outright loses at most the flush interval of a count", async () => {
    await gh.stop();
    gh = await startGatehouse({ demo: false, dataDir: gh.dataDir, env: { ...env(), GATEHOUSE_AUTH_FAILURE_FLUSH_MS: "1000" } });
    const seqBefore = Number((await sql`select max(seq) as s from audit_log`)[0].s);
    for (let i = 0; i < 20; i++) expect((await apiCall(gh.url, `nope-${i}`, "GET", "/sessions")).status).toBe(401);
    const stored = async () => {
      const failed = (await sql`select detail from audit_log where seq > ${seqBefore} and action = 'api.auth_failed' order by seq`) as Row[];
      return failed.reduce((n, r) => n + (typeof r.detail.repeated === "number" ? r.detail.repeated : 1), 0);
    };
    // Flushed within the interval (a loaded machine may take longer) ...
    await expect.poll(stored, { timeout: 15_000 }).toBe(20);
    await gh.stop("SIGKILL");
    // ... and what was flushed survives the kill, counted once.
    expect(await stored()).toBe(20);
    gh = await startGatehouse({ demo: false, dataDir: gh.dataDir, env: env() });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
  }, 120_000);
});

/**
 * A hostile host's output exported as asciicast and played in someone's terminal (a real
 * xterm.js stands in for it): by default the cast draws what the host drew and nothing else;
 * `--raw` gives the bytes as recorded, and says so in the audit log.
 */
describe("asciicast export of a hostile recording", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let sql: postgres.Sql;
  let admin: string;
  let session = "";
  const HOSTILE = [
    "$ cat notes.txt\r\n\x1b[1;32mhello\x1b[0m from the host\r\n",
    "\x1b]52;c;cm0gLXJmIH4K\x07\x1b]0;innocent title\x07\x1b[21t",
    "\x1b[6n\x1b[c\x1bP$qm\x1b\\\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\",
    // split across events
    "done\x1b",
    "]2;split\x07\x1b[",
    "6n\r\n",
  ];
  const cli = (args: string[]) => runCli(args, { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: admin } });

  beforeAll(async () => {
    pg = await startPostgres15();
    gh = await startGatehouse({ demo: false, env: { DATABASE_URL: pg.url } });
    sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const [{ id }] = await sql`select id from users where email = ${gh.adminEmail}`;
    let seq = 0;
    const ev = (kind: string, payload: Record<string, unknown>): TermEvent => ({ seq: ++seq, tMs: seq * 100, kind, payload });
    session = await insertTerminalSession(sql, { userId: id, userEmail: gh.adminEmail });
    await appendTerminalEvents(sql, session, [ev("term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm-256color" }), ...HOSTILE.map((d) => ev("term.o", { ch: 0, d })), ev("term.exit", { ch: 0, code: 0 })]);
    await endTerminalSession(sql, session);
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await gh?.stop();
    await pg?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it("played raw, the recording answers queries, sets titles and writes the clipboard in the viewer's terminal", async () => {
    const raw = await cli(["sessions", "export", session, "--format", "asciicast", "--raw"]);
    expect(raw.code, raw.stderr).toBe(0);
    expect(castOutput(raw.stdout).join("")).toBe(HOSTILE.join(""));
    const played = await playInTerminal(castOutput(raw.stdout));
    expect(played.acted).toEqual(expect.arrayContaining([expect.stringMatching(/^answer /), "title innocent title", expect.stringMatching(/^osc 52 /), expect.stringMatching(/^decrqss /)]));
    const [row] = await sql`select detail from audit_log where action = 'session.export' order by seq desc limit 1`;
    expect(row.detail).toMatchObject({ format: "asciicast", raw: true, client: "gatehouse-cli" });
  });

  it("the default export (CLI, API, download button) draws the same screen and does nothing else", async () => {
    const out = await cli(["sessions", "export", session, "--format", "asciicast"]);
    expect(out.code, out.stderr).toBe(0);
    const res = await fetch(`${gh.url}/api/v1/sessions/${session}/export?format=asciicast`, { headers: { authorization: `Bearer ${admin}` } });
    expect(await res.text()).toBe(out.stdout);
    const played = await playInTerminal(castOutput(out.stdout));
    expect(played.acted).toEqual([]);
    expect(played.screen).toBe((await playInTerminal(HOSTILE)).screen);
    expect(played.screen).toContain("hello from the host");
    expect(castOutput(out.stdout).join("")).toContain("\x1b[1;32mhello\x1b[0m");
    const [row] = await sql`select detail from audit_log where action = 'session.export' order by seq desc limit 1`;
    expect(row.detail.raw).toBeUndefined();
  });

  it("--raw is for asciicast only: jsonl is always as recorded", async () => {
    const out = await cli(["sessions", "export", session, "--format", "jsonl", "--raw"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("--raw goes with --format asciicast");
  });
});
