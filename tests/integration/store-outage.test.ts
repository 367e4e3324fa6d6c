import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Gatehouse's own database (a real PostgreSQL 15 via DATABASE_URL) goes away while a client is
 * connected through the PostgreSQL gateway, then comes back. Nothing may be let in that cannot be
 * checked and recorded, nothing recorded may be lost, and the gateway must serve again once the
 * database is back, without a restart.
 */
describe("Gatehouse's database unavailable mid-session", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let token: string;
  const open: postgres.Sql[] = [];
  const client = (appName: string) => {
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: gh.adminEmail, password: token, ssl: false, max: 1, onnotice: () => {}, connect_timeout: 30, connection: { application_name: appName } });
    open.push(sql);
    return sql;
  };
  /** "ok: <value>" or the error the gateway answered with; a hang fails the test by its timeout */
  const outcome = (q: Promise<readonly Record<string, unknown>[]>) =>
    q.then(
      (rows) => `ok: ${Object.values(rows[0] ?? {}).join(",")}`,
      (err: Error & { code?: string }) => `error ${err.code ?? ""}: ${err.message}`,
    );

  beforeAll(async () => {
    pg = await startPostgres15();
    gh = await startGatehouse({ env: { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 7).toString("base64") } });
    token = await login(gh.url, gh.adminEmail, gh.adminPassword);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled(open.map((s) => s.end({ timeout: 1 })));
    await teardown(gh, pg);
  });

  it("new sessions are refused with a clear error; the open one's statements are kept and recorded once it returns", async () => {
    const live = client("outage-live");
    expect(await outcome(live`select 'before-outage' as v`)).toBe("ok: before-outage");

    await pg.down();
    // The open session goes on with what it has checked (policy is in memory); what it does is kept.
    expect(await outcome(live`select 'during-outage' as v`)).toBe("ok: during-outage");
    // A new one cannot be checked: refused the way PostgreSQL refuses while it cannot serve, not as a bad password.
    expect(await outcome(client("outage-new")`select 1 as v`)).toMatch(/^error 57P03: gatehouse: Gatehouse cannot reach its database; try again shortly$/);
    const api = await apiCall(gh.url, token, "GET", "/sessions?limit=5");
    expect(api.status).toBe(503);
    expect(api.body.error).toEqual({ code: "UNAVAILABLE", message: "Gatehouse cannot reach its database; try again shortly" });

    await pg.up();
    await expect.poll(async () => outcome(client("outage-after")`select 'after-outage' as v`), { timeout: 60_000, interval: 1000 }).toBe("ok: after-outage");
    expect(await outcome(live`select 'after-in-live' as v`)).toBe("ok: after-in-live");

    // Everything the open session did is in its recording, in order (postgres.js's own type query
    // aside); the refused one left no session.
    const sessions = (await apiCall(gh.url, token, "GET", "/sessions?limit=50")).body.sessions as { id: string; applicationName: string }[];
    expect(sessions.map((x) => x.applicationName).sort()).toEqual(["outage-after", "outage-live"]);
    const liveId = sessions.find((x) => x.applicationName === "outage-live")!.id;
    const texts = async () => ((await apiCall(gh.url, token, "GET", `/sessions/${liveId}/events`)).body.events as { kind: string; payload: { text?: string } }[]).map((e) => e.payload.text).filter((t) => t?.startsWith("select '"));
    await expect.poll(texts, { timeout: 15_000 }).toEqual(["select 'before-outage' as v", "select 'during-outage' as v", "select 'after-in-live' as v"]);
  });
});
