import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addConnection, addUser, pgUpstream, putPolicies } from "../support/api-fixture";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * Other sessions' SQL text under masking. pg_stat_activity.query (and pg_stat_statements,
 * pg_stat_get_activity(), pg_stat_get_backend_activity()) shows what other sessions run, with
 * their literals: a human's `UPDATE accounts SET password_hash = '<value>'`, or a masked column's
 * value in someone's WHERE. A masked session read it there in the clear (detectors only catch
 * values with a recognisable shape). Now those values are withheld, sent as NULL, wherever the
 * column goes (derived expressions, whole rows), and the functions are refused under masking.
 */
const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("masked-reads")
@mask("pii")
permit (principal is Gatehouse::User, action == Gatehouse::Action::"read", resource)
when { principal.role == "member" };
`;

const MEMBER = "stat-reader@example.test";
const SECRET = "pbkdf2$Vn4QpL8sXa";

describe("PostgreSQL gateway: other sessions' SQL text under masking", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let token = "";
  let busy: postgres.Sql;
  let running: Promise<unknown>;

  const psql = (sql: string) => runPsql(gatewayConninfo(gh.ports.postgres, "app-db", MEMBER), token, ["-A", "-t", "-c", sql]);

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, MEMBER);
    await addConnection(gh, admin, "app-db", pgUpstream(pg15));
    await putPolicies(gh, admin, POLICIES, "stat activity");
    // Someone else's statement, running while the masked session looks: its text holds the secret.
    busy = postgres(pg15.url, { max: 1, onnotice: () => {} });
    running = busy.unsafe(`select pg_sleep(600), '${SECRET}' as password_hash`).catch(() => {});
    const probe = postgres(pg15.url, { max: 1, onnotice: () => {} });
    for (let tries = 0; (await probe`select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(600)%' and pid <> pg_backend_pid()`)[0].n !== 1; tries++) {
      if (tries > 100) throw new Error("the busy statement never showed in pg_stat_activity");
      await new Promise((r) => setTimeout(r, 100));
    }
    await probe.end();
  }, 180_000);

  afterAll(async () => {
    await busy?.end({ timeout: 0 });
    await running;
    await teardown(gh, pg15);
  });

  it("the query column is withheld, as it is and derived; the other columns are still there", async () => {
    for (const sql of [
      "select query from pg_stat_activity where query like '%pg_sleep(600)%'",
      "select upper(query) from pg_stat_activity",
      "select row_to_json(a)::text from pg_stat_activity a",
      "select * from pg_catalog.pg_stat_activity",
      "select string_agg(query, ',') from pg_stat_activity",
      "select query from pg_stat_activity a join pg_database d on d.datname = a.datname",
    ]) {
      const run = await psql(sql);
      expect(run.out, sql).not.toContain(SECRET);
      expect(run.out, sql).not.toContain(SECRET.slice(7));
    }
    // What the view tells besides the text is unchanged (who runs, since when, in what state);
    // the text, and anything computed from it, comes as NULL.
    const run = await psql("select state, wait_event, query, left(coalesce(query, 'x'), 10) from pg_stat_activity where wait_event = 'PgSleep'");
    expect(run.out.trim()).toBe("active|PgSleep||");
  });

  it("the functions behind it are refused under masking", async () => {
    for (const sql of ["select pg_stat_get_activity(null)", "select * from pg_stat_get_activity(null)", "select pg_stat_get_backend_activity(b) from pg_stat_get_backend_idset() b"]) {
      const run = await psql(sql);
      expect(run.out, sql).not.toContain(SECRET);
      expect(run.out, sql).toMatch(/not available on a masked connection|masking/);
    }
  });
});
