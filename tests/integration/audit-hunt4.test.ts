import postgres from "postgres";
import { auditKeyId, keyRing, macAuditRow, ROTATED_ACTION, verifyChain, type AuditRow } from "@/lib/services/audit/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonOf, runCli } from "../support/cli";
import { addConnection, pgUpstream, sessionsOf, type Rec } from "../support/api-fixture";
import { apiCall, login, startGatehouse, teardown, type GatehouseProcess } from "../support/gatehouse";
import { gatewayClient } from "../support/gateway-pg";
import { createDatabase, startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Audit and recording integrity, round 4, on a real PostgreSQL 15 store: a pool size a start would
 * hang on, and a live session's recording edited in the database before its seal is written. The
 * tampering is done with SQL, as someone with write access to the database (not the audit key) would.
 */
const OLD = Buffer.alloc(32, 0x41).toString("base64");
const NEW = Buffer.alloc(32, 0x42).toString("base64");
const [OLD_ID, NEW_ID] = [auditKeyId(Buffer.from(OLD, "base64")), auditKeyId(Buffer.from(NEW, "base64"))];

describe("audit hunt 4", () => {
  let pg: Postgres15;
  let store = "";
  let gh: GatehouseProcess | undefined;
  let sql: postgres.Sql;
  let admin = "";
  const pgSessions = sessionsOf(() => gh!, () => admin, "postgres");

  beforeAll(async () => {
    pg = await startPostgres15();
    store = await createDatabase(pg, "gh_store");
    sql = postgres(store, { max: 2, onnotice: () => {} });
  }, 60_000);

  afterAll(async () => {
    await sql?.end({ timeout: 1 });
    await teardown(gh, pg);
  });

  it("GATEHOUSE_DB_POOL=1 stops the start with an error naming the setting and its minimum, instead of hanging in the migrations", async () => {
    const start = startGatehouse({ demo: false, env: { DATABASE_URL: store, GATEHOUSE_DB_POOL: "1" } });
    const hung = new Promise((_, reject) => setTimeout(() => reject(new Error("the start hung")), 20_000));
    await expect(Promise.race([start, hung])).rejects.toThrow(/GATEHOUSE_DB_POOL must be a whole number of connections, at least 2/);
    start.catch(() => {});
    // The smallest pool that is allowed serves: the rest of this file runs on it.
    gh = await startGatehouse({ demo: false, env: { DATABASE_URL: store, GATEHOUSE_DB_POOL: "2", GATEHOUSE_AUDIT_KEY: OLD } });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "pg15", pgUpstream(pg));
  }, 60_000);

  const verifyCli = async (id: string) => {
    const run = await runCli(["sessions", "verify", id, "--json"], { env: { GATEHOUSE_URL: gh!.url, GATEHOUSE_TOKEN: admin } });
    return { ...run, verification: (jsonOf(run.stdout) as Rec | null)?.verification as Rec | undefined };
  };

  /** A live SQL session: the statements run so far are stored (flushed) before `tamper` runs. */
  async function liveSessionEditedBeforeSeal(tamper: (id: string) => Promise<void>): Promise<string> {
    const known = await pgSessions.ids();
    const { sql: client } = gatewayClient(gh!.ports.postgres, { user: gh!.adminEmail, password: admin, database: "pg15" });
    try {
      for (let i = 1; i <= 5; i++) await client.unsafe(`select ${i} as n, 'before-${i}' as marker`);
      const id = await pgSessions.opened(known);
      await expect.poll(async () => (await sql`select count(*)::int as n from session_events where session_id = ${id} and payload::text like '%before-5%'`)[0].n, { timeout: 10_000 }).toBeGreaterThan(0);
      await tamper(id);
      await client.unsafe(`select 'after' as marker`);
      return id;
    } finally {
      await client.end({ timeout: 2 });
    }
  }

  const sealed = (id: string) => expect.poll(async () => (await sql`select count(*)::int as n from audit_log where action = 'session.sealed' and subject = ${`session:${id}`}`)[0].n, { timeout: 20_000 }).toBe(1);

  it("an untouched session verifies intact", async () => {
    const id = await liveSessionEditedBeforeSeal(async () => {});
    await sealed(id);
    const v = await verifyCli(id);
    expect(v.code, v.stderr).toBe(0);
    expect(v.verification).toMatchObject({ state: "intact" });
  }, 60_000);

  it.each([
    ["edited", (id: string) => sql`update session_events set payload = jsonb_set(payload, '{text}', '"select 1 as harmless"') where session_id = ${id} and seq = (select min(seq) from session_events where session_id = ${id} and payload::text like '%before-3%')`],
    ["deleted", (id: string) => sql`delete from session_events where session_id = ${id} and seq = (select min(seq) from session_events where session_id = ${id} and payload::text like '%before-2%')`],
    ["inserted ahead of the recorder (its own insert of that seq is then skipped)", async (id: string) => {
      const [{ next }] = await sql`select max(seq)::int + 1 as next from session_events where session_id = ${id}`;
      await sql`insert into session_events (session_id, seq, t_ms, kind, payload) values (${id}, ${next}, 1, 'request', ${sql.json({ text: "select 'forged'" })})`;
    }],
  ])("an event %s while the session is live is TAMPERED once it ends, and the CLI names the session", async (_what, tamper) => {
    const id = await liveSessionEditedBeforeSeal(async (sid) => void (await tamper(sid)));
    await sealed(id);
    const v = await verifyCli(id);
    expect(v.code).toBe(1);
    expect(v.verification).toMatchObject({ state: "tampered" });
    expect(v.stderr).toContain(`recording of session ${id} tampered`);
  }, 60_000);

  describe("a key rotation, to a process that never saw one", () => {
    const rows = async () => (await sql`select seq::int as seq, at, actor_id as "actorId", actor_email as "actorEmail", action, subject, detail, prev_hash as "prevHash", hash from audit_log order by seq`) as unknown as AuditRow[];
    const auditVerify = async () => {
      const run = await runCli(["audit", "verify", "--json"], { env: { GATEHOUSE_URL: gh!.url, GATEHOUSE_TOKEN: admin } });
      return { ...run, verdict: jsonOf(run.stdout) as Rec };
    };

    it("given the next key before rotating, verify says PENDING (exit 3), not NOT VERIFIED", async () => {
      const dataDir = gh!.dataDir;
      await gh!.stop();
      gh = await startGatehouse({ demo: false, dataDir, env: { DATABASE_URL: store, GATEHOUSE_DB_POOL: "2", GATEHOUSE_AUDIT_KEY: NEW, GATEHOUSE_AUDIT_KEYS_RETIRED: OLD } });
      admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
      const v = await auditVerify();
      expect(v.code).toBe(3);
      expect(v.verdict).toMatchObject({ ok: false, pending: true, key: "retired", segment: { keyId: OLD_ID } });
      expect(v.stdout + v.stderr).toMatch(/rotation pending/i);
      expect(v.stdout + v.stderr).not.toMatch(/NOT VERIFIED/);
    }, 90_000);

    it("a rotation row written with the retired key alone is refused: no process writes after it, verify names it, without any --head", async () => {
      // The holder of the leaked OLD key appends a rotation to NEW, linked under OLD, as rotate-key would, but cannot countersign it.
      await sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(7347002)`;
        const [last] = (await tx`select seq::int as seq, hash from audit_log order by seq desc limit 1`) as unknown as { seq: number; hash: string }[];
        const row = { seq: last.seq + 1, at: new Date(), actorId: null, actorEmail: "system", action: ROTATED_ACTION, subject: "audit_log", detail: { fromKeyId: OLD_ID, toKeyId: NEW_ID, scheme: "hmac-sha256" } };
        const hash = macAuditRow(Buffer.from(OLD, "base64"), last.hash, row);
        await tx`insert into audit_log (seq, at, actor_id, actor_email, action, subject, detail, prev_hash, hash) values (${row.seq}, ${row.at}, ${null}, ${row.actorEmail}, ${row.action}, ${row.subject}, ${tx.json(row.detail)}, ${last.hash}, ${hash})`;
      });
      const forgedAt = (await rows()).at(-1)!.seq;
      // the links all verify: only the countersignature gives it away
      expect(verifyChain(await rows(), keyRing(Buffer.from(NEW, "base64"), [Buffer.from(OLD, "base64")]))).toMatchObject({ ok: false, seq: forgedAt, problem: expect.stringContaining("not countersigned") });
      const v = await auditVerify();
      expect(v.code).toBe(1);
      expect(v.verdict).toMatchObject({ ok: false, seq: forgedAt, problem: expect.stringContaining(`not countersigned by audit key ${NEW_ID}`) });
      const created = await apiCall(gh!.url, admin, "POST", "/tokens", { name: "after-forgery", ttlSeconds: 600 });
      expect(created.status).toBeGreaterThanOrEqual(400);
      expect((await rows()).at(-1)!.seq).toBe(forgedAt);

      // the forged row removed, the real rotation (countersigned by the server's new key) verifies
      await sql`delete from audit_log where seq = ${forgedAt}`;
      const rotate = await runCli(["audit", "rotate-key", "--json"], { env: { GATEHOUSE_URL: gh!.url, GATEHOUSE_TOKEN: admin } });
      expect(rotate.code, rotate.stderr).toBe(0);
      const [real] = (await rows()).filter((r) => r.action === ROTATED_ACTION);
      expect(real.detail).toMatchObject({ fromKeyId: OLD_ID, toKeyId: NEW_ID, countersign: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(JSON.stringify(real)).not.toContain(NEW);
      expect((await auditVerify()).code).toBe(0);
    }, 90_000);
  });
});
