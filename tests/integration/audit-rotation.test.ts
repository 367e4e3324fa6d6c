import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { sql as drizzleSql } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, type Db } from "@/db/client";
import { auditKeyRows, firstAuditRowFor } from "@/db/queries/audit";
import * as schema from "@/db/schema";
import { auditKeyId, macAuditRow, type AuditRow } from "@/lib/services/audit/chain";
import { addConnection, pgUpstream, sessionsOf, type Rec } from "../support/api-fixture";
import { jsonOf, runCli } from "../support/cli";
import { apiCall, login, ROOT, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { migrationsFolderUpTo } from "../support/migrations-folder";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * Rotating the audit key (lib/services/audit/rotate-key.ts) with real Gatehouse processes on one
 * PostgreSQL 15: the rotation row is keyed with the old key and names the new one; `audit verify`
 * walks both segments with the key ring; tampering is found in the right segment; a process left
 * on the retired key writes nothing; two processes on the new key write one chain; recordings
 * sealed before the rotation still verify. Tampering is done with SQL, as someone with write
 * access to the database would.
 */
const MIGRATIONS = path.join(ROOT, "db/migrations");
const b64 = (fill: number) => Buffer.alloc(32, fill).toString("base64");
const OLD = b64(0x11);
const NEW = b64(0x22);
const OLD_ID = auditKeyId(Buffer.from(OLD, "base64"));
const NEW_ID = auditKeyId(Buffer.from(NEW, "base64"));

describe("audit key rotation, two processes on PostgreSQL 15", () => {
  let pg: Postgres15;
  let sql: postgres.Sql;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  let admin = "";
  let token = "";
  let rotatedAt = 0;
  let rotationHead = "";
  let sealedBefore = "";
  const dirs = [fs.mkdtempSync(path.join(os.tmpdir(), "gh-rot-a-")), fs.mkdtempSync(path.join(os.tmpdir(), "gh-rot-b-")), path.join(os.tmpdir(), `gh-rot-c-${process.pid}`)];
  // one master key for both (tokens, sealed secrets); the audit keys are set apart from it
  const env = (keys: { key: string; retired?: string }) => ({
    DATABASE_URL: pg.url,
    GATEHOUSE_SECRET_KEY: b64(0x09),
    GATEHOUSE_AUDIT_KEY: keys.key,
    ...(keys.retired ? { GATEHOUSE_AUDIT_KEYS_RETIRED: keys.retired } : {}),
  });
  const start = (dir: number, keys: { key: string; retired?: string }) => startGatehouse({ demo: false, dataDir: dirs[dir], env: env(keys) });
  const cli = (gh: GatehouseProcess, args: string[]) => runCli(args, { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: admin } });
  const verify = async (gh: GatehouseProcess) => {
    const run = await cli(gh, ["audit", "verify", "--json"]);
    return { ...run, verdict: jsonOf(run.stdout) as Rec };
  };
  const rows = async () => (await sql`select seq::int as seq, at, actor_id as "actorId", actor_email as "actorEmail", action, subject, detail, prev_hash as "prevHash", hash from audit_log order by seq`) as unknown as AuditRow[];
  const restore = (all: AuditRow[]) =>
    sql.begin(async (tx) => {
      await tx`delete from audit_log`;
      for (const r of all)
        await tx`insert into audit_log (seq, at, actor_id, actor_email, action, subject, detail, prev_hash, hash)
          values (${r.seq}, ${r.at}, ${r.actorId}, ${r.actorEmail}, ${r.action}, ${r.subject}, ${tx.json(r.detail as never)}, ${r.prevHash}, ${r.hash})`;
    });
  /** What someone holding `key` can do: relink rows `from` on (edited or not) under it. */
  const relinkWith = async (all: AuditRow[], from: number, key: string) => {
    let prev = all[from - 2].hash;
    await sql.begin(async (tx) => {
      await tx`delete from audit_log where seq >= ${from}`;
      for (const r of all.slice(from - 1)) {
        const hash = macAuditRow(Buffer.from(key, "base64"), prev, r);
        await tx`insert into audit_log (seq, at, actor_id, actor_email, action, subject, detail, prev_hash, hash)
          values (${r.seq}, ${r.at}, ${r.actorId}, ${r.actorEmail}, ${r.action}, ${r.subject}, ${tx.json(r.detail as never)}, ${prev}, ${hash})`;
        prev = hash;
      }
    });
  };
  const isKeyedWith = (r: AuditRow, key: string) => macAuditRow(Buffer.from(key, "base64"), r.prevHash, r) === r.hash;
  const newToken = (gh: GatehouseProcess, name: string) => apiCall(gh.url, admin, "POST", "/tokens", { name, ttlSeconds: 600 });
  const pgSessions = sessionsOf(() => a, () => admin, "postgres");
  const sessionVerify = async (gh: GatehouseProcess, id: string) => (await apiCall(gh.url, admin, "GET", `/sessions/${id}/verify`)).body as Rec;
  const sealedIntact = (gh: GatehouseProcess, id: string) => expect.poll(async () => (await sessionVerify(gh, id)).verification?.state, { timeout: 20_000 }).toBe("intact");
  async function sqlSession(): Promise<string> {
    const known = await pgSessions.ids();
    const run = await runPsql(gatewayConninfo(a.ports.postgres, "db", a.adminEmail), token, ["-c", "select 1 as one"]);
    expect(run.code, run.stderr).toBe(0);
    return pgSessions.opened(known);
  }

  beforeAll(async () => {
    pg = await startPostgres15();
    sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    a = await start(0, { key: OLD });
    admin = await login(a.url, a.adminEmail, a.adminPassword);
    await addConnection(a, admin, "db", pgUpstream(pg));
    token = (await newToken(a, "psql")).body.token as string;
  }, 180_000);

  afterAll(async () => {
    await sql?.end();
    await a?.stop();
    await b?.stop();
    await pg?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("refuses a rotation without a new key, and to anyone but an admin", async () => {
    const run = await cli(a, ["audit", "rotate-key"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`already keyed with this process's key ${OLD_ID}`);
    expect(run.stderr).toContain("GATEHOUSE_AUDIT_KEYS_RETIRED");
    await apiCall(a.url, admin, "POST", "/users", { email: "auditor@example.test", password: "auditor-password-1", role: "auditor" });
    const auditor = await login(a.url, "auditor@example.test", "auditor-password-1");
    expect((await apiCall(a.url, auditor, "POST", "/audit/rotate-key", {})).status).toBe(403);
    expect((await rows()).filter((r) => r.action === "audit.key_rotated")).toEqual([]);
  });

  it("given the next key before the rotation, a process writes under the log's key; verify says the rotation is pending", async () => {
    sealedBefore = await sqlSession();
    await sealedIntact(a, sealedBefore);
    await a.stop();
    [a, b] = await Promise.all([start(0, { key: NEW, retired: OLD }), start(1, { key: OLD })]);
    expect((await newToken(a, "before-rotation")).status).toBe(200);
    const last = (await rows()).at(-1)!;
    expect(last.action).toBe("token.create");
    expect(isKeyedWith(last, OLD)).toBe(true);
    const pending = await verify(a);
    expect(pending.code).toBe(3);
    expect(pending.verdict).toMatchObject({ ok: false, key: "retired", pending: true, segment: { keyId: OLD_ID } });
    expect(pending.verdict.problem).toContain("gatehouse audit rotate-key");
    expect((await verify(b)).verdict).toMatchObject({ ok: true });
  }, 120_000);

  it("rotates: one row keyed with the old key names the new key's id (never the key); rows after it are keyed with the new key", async () => {
    const run = await cli(a, ["audit", "rotate-key", "--reason", "suspected exposure", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const r = jsonOf(run.stdout) as Rec;
    expect(r).toMatchObject({ fromKeyId: OLD_ID, toKeyId: NEW_ID, rotatedAt: expect.any(Number), head: expect.stringMatching(/^[0-9a-f]{64}$/) });
    rotatedAt = r.rotatedAt;
    rotationHead = r.head;
    const [row] = (await rows()).filter((x) => x.action === "audit.key_rotated");
    expect(row.hash).toBe(rotationHead);
    expect(row).toMatchObject({ seq: rotatedAt, actorEmail: a.adminEmail, subject: "audit_log", detail: { fromKeyId: OLD_ID, toKeyId: NEW_ID, scheme: "hmac-sha256", reason: "suspected exposure" } });
    expect(isKeyedWith(row, OLD)).toBe(true);
    const stored = JSON.stringify(row);
    for (const secret of [NEW, Buffer.from(NEW, "base64").toString("hex"), OLD]) expect(stored).not.toContain(secret);

    expect((await newToken(a, "after-rotation")).status).toBe(200);
    const after = (await rows()).filter((x) => x.seq > rotatedAt);
    expect(after.length).toBeGreaterThan(0);
    for (const x of after) expect([x.action, isKeyedWith(x, NEW), isKeyedWith(x, OLD)]).toEqual([x.action, true, false]);

    const human = await cli(a, ["audit", "verify"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`audit chain intact: \\d+ rows, head [0-9a-f]{64} \\(keyed from row 1; key ${NEW_ID} from row ${rotatedAt + 1}\\)`));
    expect((await verify(a)).verdict).toMatchObject({ ok: true, keyedFrom: 1, segments: [{ from: 1, keyId: OLD_ID }, { from: rotatedAt + 1, keyId: NEW_ID }] });
  });

  it("a process still on the retired key refuses to write, says why, and writes nothing; one started on it refuses to start", async () => {
    const before = (await rows()).length;
    const res = await newToken(b, "on-the-retired-key");
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(b.output()).toContain(`this process's audit key ${OLD_ID} was retired at row ${rotatedAt} (rotated to ${NEW_ID}`);
    expect((await rows()).length).toBe(before);
    expect((await sql`select count(*)::int as n from tokens where name = 'on-the-retired-key'`)[0].n).toBe(0);
    // nor can it vouch for the new segment
    const v = await verify(b);
    expect(v.code).toBe(1);
    expect(v.verdict).toMatchObject({ ok: false, key: "missing", seq: rotatedAt, segment: { from: rotatedAt + 1, keyId: NEW_ID } });
    expect(v.stderr).toContain("audit chain not verified");
    await b.stop();
    await expect(start(1, { key: OLD })).rejects.toThrow(new RegExp(`cannot write the audit log: this process's audit key ${OLD_ID} was retired at row ${rotatedAt}`));
    expect((await rows()).length).toBe(before);
  }, 120_000);

  it("two processes on the new key write one chain, concurrently", async () => {
    b = await start(1, { key: NEW, retired: OLD });
    const made = await Promise.all([...Array(24).keys()].map((i) => newToken(i % 2 ? a : b, `both-${i}`)));
    expect(made.map((r) => r.status)).toEqual(made.map(() => 200));
    const [va, vb] = [await verify(a), await verify(b)];
    expect(va.verdict).toMatchObject({ ok: true, segments: [{ keyId: OLD_ID }, { from: rotatedAt + 1, keyId: NEW_ID }] });
    expect(vb.verdict).toEqual(va.verdict);
    expect((await rows()).filter((r) => r.action === "token.create" && String(r.detail.name ?? "").startsWith("both-")).length).toBe(24);
  }, 120_000);

  it("a recording sealed before the rotation still verifies, on either process; one sealed after it too", async () => {
    const seal = (await rows()).find((r) => r.action === "session.sealed" && r.subject === `session:${sealedBefore}`)!;
    expect(seal.seq).toBeLessThan(rotatedAt);
    expect(isKeyedWith(seal, OLD)).toBe(true);
    await sealedIntact(a, sealedBefore);
    await sealedIntact(b, sealedBefore);
    const after = await sqlSession();
    await sealedIntact(a, after);
    await sealedIntact(b, after);
    const sealAfter = (await rows()).find((r) => r.action === "session.sealed" && r.subject === `session:${after}`)!;
    expect(isKeyedWith(sealAfter, NEW)).toBe(true);
  }, 60_000);

  it("an edit before the rotation is reported in the old key's segment, one after it in the new key's", async () => {
    const all = await rows();
    const old = all.find((r) => r.action === "auth.login" && r.seq < rotatedAt)!;
    const recent = all.find((r) => r.action === "token.create" && r.seq > rotatedAt)!;
    try {
      await sql`update audit_log set actor_email = 'someone-else@example.test' where seq = ${old.seq}`;
      const v = await verify(a);
      expect(v.code).toBe(1);
      expect(v.verdict).toMatchObject({ ok: false, seq: old.seq, segment: { from: 1, keyId: OLD_ID } });
      expect(v.stderr).toContain(`audit chain broken at row ${old.seq}`);
      expect(v.verdict.problem).toContain(`segment from row 1, audit key ${OLD_ID}`);
      await sql`update audit_log set actor_email = ${old.actorEmail} where seq = ${old.seq}`;
      await sql`update audit_log set detail = detail || '{"name":"renamed"}' where seq = ${recent.seq}`;
      expect((await verify(a)).verdict).toMatchObject({ ok: false, seq: recent.seq, segment: { from: rotatedAt + 1, keyId: NEW_ID } });
    } finally {
      await restore(all);
    }
    expect((await verify(a)).verdict).toMatchObject({ ok: true });
  });

  it("someone holding only the new key cannot rewrite the rows before the rotation; one holding the old key cannot rewrite those after it", async () => {
    const all = await rows();
    const old = all.find((r) => r.action === "auth.login" && r.seq < rotatedAt)!;
    const recent = all.find((r) => r.action === "token.create" && r.seq > rotatedAt)!;
    try {
      await relinkWith(all.map((r) => (r.seq === old.seq ? { ...r, actorEmail: "someone-else@example.test" } : r)), old.seq, NEW);
      expect((await verify(a)).verdict).toMatchObject({ ok: false, seq: old.seq, segment: { keyId: OLD_ID } });
      await restore(all);
      await relinkWith(all.map((r) => (r.seq === recent.seq ? { ...r, actorEmail: "someone-else@example.test" } : r)), recent.seq, OLD);
      expect((await verify(a)).verdict).toMatchObject({ ok: false, seq: recent.seq, segment: { keyId: NEW_ID } });
    } finally {
      await restore(all);
    }
    expect((await verify(a)).verdict).toMatchObject({ ok: true });
  });

  it("the rows after the rotation relinked under the retired key and the rotation forged again at the end: the servers that saw it and the head rotate-key printed show it", async () => {
    const all = await rows();
    let c: GatehouseProcess | undefined;
    try {
      // the holder of the leaked old key: the rotation row made an ordinary one, every row from it on relinked under the old key
      const rewritten = all.map((r) => (r.seq === rotatedAt ? { ...r, action: "token.create", detail: { name: "not a rotation" } } : r));
      const forged = { ...all[rotatedAt - 1], seq: all.length + 1, at: new Date() };
      await relinkWith([...rewritten, forged], rotatedAt, OLD);
      expect((await rows()).at(-1)).toMatchObject({ action: "audit.key_rotated", seq: all.length + 1 });
      // the links alone verify, but the forged rotation is not countersigned by the new key: a process
      // that never saw the rotation, given no head, refuses to start on the log
      await expect(startGatehouse({ demo: false, dataDir: dirs[2], env: env({ key: NEW, retired: OLD }) })).rejects.toThrow(new RegExp(`key rotation at row ${all.length + 1} \\(to ${NEW_ID}\\) is not countersigned`));
      const run = await runCli(["audit", "verify", "--head", rotationHead, "--json"], { env: { GATEHOUSE_URL: a.url, GATEHOUSE_TOKEN: admin } });
      expect(run.code).toBe(1);
      expect(jsonOf(run.stdout)).toMatchObject({ ok: false, seq: all.length + 1, problem: expect.stringContaining(`not countersigned by audit key ${NEW_ID}`) });
      // the processes that saw it refuse to verify, to write and to vouch for a seal
      const v = await verify(a);
      expect(v.code).toBe(1);
      expect(v.verdict.problem).toContain("not countersigned");
      expect((await verify(b)).code).toBe(1);
      const before = (await rows()).length;
      expect((await newToken(b, "after-the-forgery")).status).toBeGreaterThanOrEqual(500);
      expect((await rows()).length).toBe(before);
      expect((await sessionVerify(a, sealedBefore)).verification).toBeUndefined();
    } finally {
      await c?.stop();
      fs.rmSync(dirs[2], { recursive: true, force: true });
      await restore(all);
    }
    expect((await verify(a)).verdict).toMatchObject({ ok: true });
  }, 120_000);

  it("the log cut off at the rotation and continued under the retired key: nothing more is written, verify and the next start refuse", async () => {
    const all = await rows();
    const keptRows = all.filter((r) => r.seq < rotatedAt);
    try {
      // the holder of the leaked old key drops the rotation and what followed, and goes on under the old key
      await restore(keptRows);
      const forged = { ...all[rotatedAt], seq: rotatedAt, action: "token.create", prevHash: keptRows.at(-1)!.hash };
      await relinkWith([...keptRows, forged], rotatedAt, OLD);
      const res = await newToken(a, "after-the-cut");
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(a.output()).toContain(`the audit key was rotated at row ${rotatedAt} (to ${NEW_ID}), but the log has no such rotation now`);
      expect((await rows()).length).toBe(rotatedAt);
      expect((await verify(a)).verdict).toMatchObject({ ok: false, problem: expect.stringContaining(`the key rotation to audit key ${NEW_ID} at row ${rotatedAt}, seen earlier, is not in the log`) });
      await a.stop();
      await expect(start(0, { key: NEW, retired: OLD })).rejects.toThrow(new RegExp(`the audit key was rotated at row ${rotatedAt} \\(to ${NEW_ID}\\), but the log has no such rotation now`));
    } finally {
      await restore(all);
    }
    a = await start(0, { key: NEW, retired: OLD });
    expect((await verify(a)).verdict).toMatchObject({ ok: true });
  }, 120_000);
});

/**
 * The audit log's lookups by action and subject (a session's seal, for `sessions verify`, the
 * session page's badge and every seal's "sealed already?"; the key rows every append reads) go
 * through migration 0014's index, on both stores, over a log of 60k rows: never a scan of it.
 */
describe.each(["pglite", "postgres"] as const)("audit lookups by action and subject on %s", (store) => {
  let pg: Postgres15 | undefined;
  let db: Db;
  let explain: (text: string, params: unknown[]) => Promise<unknown>;
  let close: () => Promise<void>;
  const statements: { text: string; params: unknown[] }[] = [];
  const logger = { logQuery: (text: string, params: unknown[]) => void statements.push({ text, params }) };

  beforeAll(async () => {
    if (store === "pglite") {
      const client = new PGlite();
      db = drizzlePglite(client, { schema, logger }) as unknown as Db;
      await migratePglite(db as never, { migrationsFolder: MIGRATIONS });
      explain = async (text, params) => (await client.query<{ "QUERY PLAN": unknown }>(`explain (format json) ${text}`, params)).rows[0]["QUERY PLAN"];
      close = () => client.close();
    } else {
      pg = await startPostgres15();
      const client = postgres(pg.url, { max: 1, onnotice: () => {} });
      db = drizzlePostgres(client, { schema, logger }) as unknown as Db;
      await migratePostgres(db as never, { migrationsFolder: MIGRATIONS });
      explain = async (text, params) => (await client.unsafe(`explain (format json) ${text}`, params as never[]))[0]["QUERY PLAN"];
      close = async () => {
        await client.end();
        await pg!.stop();
      };
    }
    // a keyed log rotated once, with seals, logins and refusals about many subjects
    await db.execute(drizzleSql`insert into audit_log (seq, at, actor_email, action, subject, detail, prev_hash, hash)
      select i, now(), 'system',
        case when i = 1 then 'audit.chain_keyed' when i = 30000 then 'audit.key_rotated'
             else (array['auth.login', 'token.create', 'session.sealed', 'session.verify', 'api.auth_failed'])[1 + i % 5] end,
        case when i in (1, 30000) then 'audit_log' else 'session:' || (i / 5)::text end,
        '{}'::jsonb, md5(i::text), md5((i + 1)::text)
      from generate_series(1, 60000) as i`);
    await db.execute(drizzleSql`analyze audit_log`);
  }, 180_000);
  afterAll(async () => {
    await close?.();
  });

  function nodes(plan: unknown): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const walk = (n: Record<string, unknown>) => {
      out.push(n);
      for (const c of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(c);
    };
    for (const p of (typeof plan === "string" ? JSON.parse(plan) : plan) as { Plan: Record<string, unknown> }[]) walk(p.Plan);
    return out;
  }

  it("finds a session's seal, and the key rows, by index", async () => {
    statements.length = 0;
    expect(await firstAuditRowFor(db, "session.sealed", "session:4321")).toMatchObject({ seq: 21607, action: "session.sealed" });
    expect((await auditKeyRows(db)).map((r) => r.seq)).toEqual([1, 30000]);
    expect(statements).toHaveLength(2);
    for (const s of statements) {
      const plan = nodes(await explain(s.text, s.params));
      if (process.env.GH_DEBUG) console.log(store, JSON.stringify(plan.map((n) => [n["Node Type"], n["Relation Name"], n["Index Name"]])));
      expect(plan.filter((n) => n["Relation Name"] === "audit_log").map((n) => n["Node Type"]), s.text).not.toContain("Seq Scan");
      expect(plan.map((n) => n["Index Name"]), s.text).toContain("audit_log_action_subject_idx");
    }
  });
});

/**
 * A new version's index migration at the first start on a PostgreSQL store other processes are
 * writing to (db/concurrent-indexes.ts): the index is built concurrently, so their writes go on
 * while it waits and builds (a plain CREATE INDEX queues every writer of the table behind it).
 */
describe("an index migration on a PostgreSQL 15 store in use", () => {
  const INDEX = "audit_log_action_subject_idx";
  const TAG = "0014_audit_subject_index";
  let pg: Postgres15;
  let sql: postgres.Sql;
  let seq = 100_000;
  const row = (s: number) => ({ seq: s, at: new Date(), actor_email: "system", action: "test.write", subject: `row:${s}`, detail: {}, prev_hash: "x", hash: "y" });
  const indexState = async () => (await sql`select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = ${INDEX}`)[0]?.valid ?? null;
  const recorded = async () => (await sql`select hash, created_at::text as at from drizzle.__drizzle_migrations order by created_at desc`) as unknown as { hash: string; at: string }[];
  const journalWhen = () => String((JSON.parse(fs.readFileSync(path.join(MIGRATIONS, "meta/_journal.json"), "utf8")).entries as { tag: string; when: number }[]).find((e) => e.tag === TAG)!.when);

  beforeAll(async () => {
    pg = await startPostgres15();
    sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    const older = migrationsFolderUpTo("0013_session_events_decided_idx");
    try {
      await migratePostgres(drizzlePostgres(sql), { migrationsFolder: older.folder });
    } finally {
      older.remove();
    }
    await sql`insert into audit_log (seq, at, actor_email, action, subject, detail, prev_hash, hash)
      select i, now(), 'system', 'seed', 'session:' || i, '{}'::jsonb, 'x', 'y' from generate_series(1, 50000) as i`;
  }, 120_000);
  afterAll(async () => {
    await sql?.end();
    await pg?.stop();
  });

  it("builds it concurrently: another process's writes go on while it waits for an open transaction and builds", async () => {
    const holder = postgres(pg.url, { max: 1, onnotice: () => {} });
    const writer = postgres(pg.url, { max: 1, onnotice: () => {} });
    let release = () => {};
    try {
      // another process mid-append: its transaction has written to audit_log and is still open
      let wrote = () => {};
      const written = new Promise<void>((r) => (wrote = r));
      const open = holder.begin(async (tx) => {
        await tx`insert into audit_log ${tx(row(++seq))}`;
        wrote();
        await new Promise<void>((r) => (release = r));
      });
      await written;
      const starting = openPostgres(pg.url);
      await expect
        .poll(async () => (await sql`select count(*)::int as n from pg_stat_activity where query ilike ${`%index%${INDEX}%`} and state = 'active' and wait_event_type = 'Lock'`)[0].n, { timeout: 20_000 })
        .toBe(1);
      // a third process writes meanwhile; it would wait behind a plain CREATE INDEX until the open transaction ends
      await writer`set statement_timeout = 3000`;
      await writer`insert into audit_log ${writer(row(++seq))}`;
      release();
      await open;
      await (await starting).close();
    } finally {
      release();
      await holder.end();
      await writer.end();
    }
    expect(await indexState()).toBe(true);
    // recorded as drizzle's migrator records it: the next start does not apply it again
    const [newest] = await recorded();
    expect(newest).toEqual({ hash: createHash("sha256").update(fs.readFileSync(path.join(MIGRATIONS, `${TAG}.sql`))).digest("hex"), at: journalWhen() });
  }, 60_000);

  it("an index left invalid by a build that was killed is dropped and built again at the next start", async () => {
    await sql`delete from drizzle.__drizzle_migrations where created_at = ${journalWhen()}`;
    await sql`update pg_index set indisvalid = false where indexrelid = ${INDEX}::regclass`;
    expect(await indexState()).toBe(false);
    await (await openPostgres(pg.url)).close();
    expect(await indexState()).toBe(true);
    expect((await recorded()).filter((r) => r.at === journalWhen())).toHaveLength(1);
    // and a start with nothing pending changes nothing
    await (await openPostgres(pg.url)).close();
    expect((await recorded()).filter((r) => r.at === journalWhen())).toHaveLength(1);
  }, 60_000);

  it("processes starting together build it once and all start", async () => {
    await sql`delete from drizzle.__drizzle_migrations where created_at = ${journalWhen()}`;
    await sql.unsafe(`drop index ${INDEX}`);
    const handles = await Promise.all([openPostgres(pg.url), openPostgres(pg.url), openPostgres(pg.url)]);
    for (const h of handles) await h.close();
    expect(await indexState()).toBe(true);
    expect((await recorded()).filter((r) => r.at === journalWhen())).toHaveLength(1);
  }, 60_000);
});
