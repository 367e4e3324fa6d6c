import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addConnection, pgUpstream } from "../support/api-fixture";
import { apiCall, login, startGatehouse, teardown, type GatehouseProcess } from "../support/gatehouse";
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
});
