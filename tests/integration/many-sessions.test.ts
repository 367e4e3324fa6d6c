import net from "node:net";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addConnection, pgUpstream } from "../support/api-fixture";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Hundreds of concurrent sessions through the PostgreSQL gateway (an agent's, so every result is
 * masked), to a real PostgreSQL 15, while hostile sockets hang in the middle of a startup packet:
 * every client gets its own correct, masked answer, every session's recording is complete and
 * its own, and a person's client is served throughout.
 */
const SESSIONS = 200;
const HOSTILE = 20;

describe("hundreds of concurrent sessions", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let admin: string;
  let agent: string;
  const emails = Array.from({ length: 10 }, (_, i) => `person${i}.lastname@corp-example.com`);

  beforeAll(async () => {
    [gh, pg] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "load-pg", { ...pgUpstream(pg) });
    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    await direct`create table people (id int primary key, email text not null)`;
    await direct`insert into people ${direct(emails.map((email, id) => ({ id, email })))}`;
    await direct.end();
    const root = (await apiCall(gh.url, admin, "POST", "/tokens", { name: "load", ttlSeconds: 3600 })).body.token as string;
    agent = (await exchangeToken(gh.url, root, "loader")).access_token;
  }, 120_000);

  afterAll(async () => {
    await teardown(gh, pg);
  });

  it(`${SESSIONS} agent sessions at once, each answered and recorded as its own, masked; hanging sockets stall nobody`, async () => {
    const hostile = Array.from({ length: HOSTILE }, () => {
      const s = net.connect(gh.ports.postgres, "127.0.0.1");
      s.on("error", () => {});
      s.on("connect", () => s.write(Buffer.from([0, 0, 0, 40, 0, 3, 0, 0]))); // a startup packet's first bytes, never the rest
      return s;
    });
    const person = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "load-pg", username: gh.adminEmail, password: admin, ssl: false, max: 1, onnotice: () => {} });
    const personAnswers: number[] = [];
    let loading = true;
    const personLoop = (async () => {
      for (let i = 0; loading; i++) personAnswers.push((await person`select ${i}::int as i`)[0].i);
    })();

    const results = await Promise.all(
      Array.from({ length: SESSIONS }, async (_, n) => {
        const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "load-pg", username: gh.adminEmail, password: agent, ssl: false, max: 1, onnotice: () => {}, connect_timeout: 120, connection: { application_name: `load-${n}` } });
        try {
          const [row] = await sql`select id, email from people where id = ${n % 10}`;
          const [echo] = await sql.unsafe(`select ${n} as n`);
          return { n, id: row.id as number, email: row.email as string, echo: echo.n as number };
        } finally {
          await sql.end({ timeout: 5 });
        }
      }),
    );
    loading = false;
    await personLoop;
    await person.end();
    hostile.forEach((s) => s.destroy());

    for (const r of results) {
      expect(r.id).toBe(r.n % 10);
      expect(r.echo).toBe(r.n);
      expect(r.email, `session ${r.n}`).not.toBe(emails[r.n % 10]);
      expect(r.email).not.toContain("lastname");
    }
    expect(personAnswers.length).toBeGreaterThan(0);
    expect(personAnswers).toEqual(personAnswers.map((_, i) => i));

    // Every session is recorded, ended, with its own two statements and nothing of another's.
    const listed = (await apiCall(gh.url, admin, "GET", "/sessions?limit=1000&connection=load-pg")).body.sessions as { id: string; applicationName: string; status: string }[];
    const load = listed.filter((s) => s.applicationName.startsWith("load-"));
    expect(load).toHaveLength(SESSIONS);
    await expect.poll(async () => ((await apiCall(gh.url, admin, "GET", "/sessions?limit=1000&connection=load-pg&status=live")).body.sessions as unknown[]).length, { timeout: 30_000 }).toBe(0);
    for (const s of load) {
      const n = Number(s.applicationName.slice("load-".length));
      const events = (await apiCall(gh.url, admin, "GET", `/sessions/${s.id}/events`)).body.events as { kind: string; payload: { text?: string } }[];
      const texts = events.map((e) => e.payload.text).filter((t): t is string => !!t && !t.includes("pg_catalog"));
      expect(texts, s.applicationName).toEqual(["select id, email from people where id = $1", `select ${n} as n`]);
      expect(JSON.stringify(events)).not.toContain("lastname");
    }
  }, 300_000);
});
