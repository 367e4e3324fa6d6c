import postgres from "postgres";
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
    gh = await startGatehouse({ demo: false, env: { DATABASE_URL: store, GATEHOUSE_DB_POOL: "2" } });
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
});
