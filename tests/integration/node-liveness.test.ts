import fs from "node:fs";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { addConnection, pgUpstream } from "../support/api-fixture";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Two Gatehouse processes on one real PostgreSQL 15, heartbeating every 300 ms (gone after ~2 s
 * without one). A process killed outright leaves its sessions live in the database; the other
 * process ends them. A process whose sessions the database says are over ends them itself.
 */
describe("sessions of a Gatehouse process that is gone", () => {
  let pg: Postgres15;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  let token: string;
  let sql: postgres.Sql;
  const env = () => ({ DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 9).toString("base64"), GATEHOUSE_NODE_HEARTBEAT_MS: "300" });
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** a PostgreSQL client through `gh`, its session named by application_name */
  const via = (gh: GatehouseProcess, appName: string) =>
    postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "loopback-pg", username: gh.adminEmail, password: token, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: appName } });
  const sessionOf = async (appName: string) => (await sql`select id, status, end_reason, node_id from sessions where application_name = ${appName}`)[0];

  beforeAll(async () => {
    pg = await startPostgres15();
    [a, b] = await Promise.all([startGatehouse({ env: env(), demo: false }), startGatehouse({ env: env(), demo: false })]);
    token = await login(b.url, b.adminEmail, b.adminPassword);
    await addConnection(b, token, "loopback-pg", { ...pgUpstream(pg) });
    sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await Promise.all([a?.proc.signalCode ? null : a?.stop(), b?.stop()]);
    await pg?.stop();
    for (const p of [a, b]) if (p) fs.rmSync(p.dataDir, { recursive: true, force: true });
  });

  it("a killed process's live sessions are ended by the other; the other's stay live", async () => {
    const viaA = via(a, "on-a");
    const viaB = via(b, "on-b");
    try {
      await viaA`select 1`;
      await viaB`select 1`;
      expect((await sessionOf("on-a")).status).toBe("live");
      const nodeOfA = (await sessionOf("on-a")).node_id as string;
      const nodes = async () => (await apiCall(b.url, token, "GET", "/nodes")).body.nodes as { nodeId: string; liveSessions: number; gone: boolean }[];
      const [{ n: liveOnA }] = await sql`select count(*)::int as n from sessions where node_id = ${nodeOfA} and status = 'live'`;
      expect(liveOnA).toBeGreaterThanOrEqual(1);
      expect((await nodes()).find((n) => n.nodeId === nodeOfA)).toMatchObject({ liveSessions: liveOnA, gone: false });
      expect((await nodes()).filter((n) => !n.gone)).toHaveLength(2);
      await a.stop("SIGKILL");
      const killedAt = Date.now();
      let row = await sessionOf("on-a");
      while (row.status === "live" && Date.now() - killedAt < 15_000) {
        await pause(100);
        row = await sessionOf("on-a");
      }
      expect(row).toMatchObject({ status: "failed", end_reason: "the Gatehouse process serving it stopped without ending it" });
      // gone after 6 missed heartbeats (~2 s), not at once
      expect(Date.now() - killedAt).toBeGreaterThan(1_000);
      // the console's list of processes shows it gone, its session no longer counted
      expect((await nodes()).find((n) => n.nodeId === nodeOfA)).toMatchObject({ liveSessions: 0, gone: true });
      // the living process's session is untouched and still serves
      expect((await sessionOf("on-b")).status).toBe("live");
      expect(await viaB`select 2 as two`).toEqual([{ two: 2 }]);
    } finally {
      await viaA.end({ timeout: 1 }).catch(() => {});
      await viaB.end();
    }
  });

  it("a process ends a session the database says is over (as after being cut off from it)", async () => {
    const viaB = via(b, "cut-off");
    try {
      await viaB`select 1`;
      const { id } = await sessionOf("cut-off");
      await sql`update sessions set status = 'failed', end_reason = 'ended by another process' where id = ${id}`;
      let terminated: { reason: string } | undefined;
      for (const deadline = Date.now() + 5_000; !terminated && Date.now() < deadline; await pause(100)) {
        [terminated] = (await sql`select payload from session_events where session_id = ${id} and kind = 'terminated'`).map((r) => r.payload);
      }
      expect(terminated?.reason).toBe("the session was ended elsewhere (failed: ended by another process)");
      // its client connection was closed: the next statement runs in a new session
      await viaB`select 1`;
      expect((await sql`select count(*)::int as n from sessions where application_name = 'cut-off'`)[0].n).toBe(2);
    } finally {
      await viaB.end({ timeout: 1 }).catch(() => {});
    }
  });
});
