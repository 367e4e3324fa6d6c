import fs from "node:fs";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { addUser } from "../support/api-fixture";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Large masked results without the masking worker (GATEHOUSE_MASK_WORKER=0, as on one core): the
 * rows received together are masked as runs on the relay's thread (masked-runs.ts, row-writer.ts).
 * A real PostgreSQL 15, real node-postgres over the simple and the extended protocol: every row
 * arrives in order and masked, NULLs stay NULL, what follows a result comes after all of its rows,
 * and the recording counts every row and every masked cell.
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("read")
@mask("pii")
permit (principal, action == Gatehouse::Action::"read", resource);
`;
const MEMBER = "dev@example.test";
const ROWS = 20_000;

describe("PostgreSQL masked results masked inline, in runs", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  const tokens = { admin: "", member: "" };
  const client = (app: string) => new pg.Client({ host: "127.0.0.1", port: gh.ports.postgres, database: "pg15", user: MEMBER, password: tokens.member, ssl: false, application_name: app });

  async function resultOf(app: string, text: string): Promise<Record<string, any>> {
    // The client has ended it: its status leaves "live" once all its events are stored.
    const sessionOf = async () => ((await apiCall(gh.url, tokens.admin, "GET", "/sessions?protocol=postgres")).body.sessions as Record<string, any>[]).find((s) => s.applicationName === app);
    await expect.poll(async () => (await sessionOf())?.status ?? "not listed", { timeout: 10_000 }).not.toMatch(/^(live|not listed)$/);
    const session = (await sessionOf())!;
    const events = (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${session.id}/events`)).body.events as Record<string, any>[];
    const req = events.find((e) => e.kind === "request" && e.payload.text === text)!;
    return events.find((e) => e.kind === "result" && e.payload.requestSeq === req.seq)!.payload;
  }

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false, env: { GATEHOUSE_MASK_WORKER: "0" } }), startPostgres15()]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, MEMBER);
    const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "pg15", type: "postgres", upstream: `postgres://127.0.0.1:${pg15.port}/postgres`, username: "postgres", secret: "gatehouse-test" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const put = await apiCall(gh.url, tokens.admin, "PUT", "/policies", { text: POLICIES, comment: "masked runs test" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    // every third email NULL; a card number inside a free-text column for the detectors
    await direct.unsafe(`create table people as select g as id, case when g % 3 = 0 then null else 'user' || g || '@example.com' end as email,
      '078-05-' || lpad((1000 + g % 8999)::text, 4, '0') as ssn, 'paid with 4111 1111 1111 1111, thanks' as note
      from generate_series(1, ${ROWS}) g`);
    await direct.end();
  });
  afterAll(async () => {
    await gh?.stop();
    await pg15?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  function expectMasked(rows: Record<string, any>[]) {
    expect(rows).toHaveLength(ROWS);
    rows.forEach((row, i) => {
      expect(row.id).toBe(i + 1);
      if (row.id % 3 === 0) expect(row.email).toBeNull();
      else expect(row.email).toMatch(/^h_[0-9a-f]{12}$/);
      expect(row.ssn).toBe("[REDACTED]");
      // partial, keep last 4: the card's digits are starred, the words around it stay
      expect(row.note).toBe("paid with **** **** **** 1111, thanks");
    });
  }

  it("simple protocol: every row in order and masked, the next result after it, all counted", async () => {
    const sql = "select id, email, ssn, note from people order by id";
    const c = client("runs-simple");
    await c.connect();
    try {
      const [big, after] = (await c.query(`${sql}; select 'after' as marker`)) as unknown as pg.QueryResult[];
      expectMasked(big.rows);
      expect(after.rows).toEqual([{ marker: "after" }]);
      expectMasked((await c.query(sql)).rows);
    } finally {
      await c.end();
    }
    const result = await resultOf("runs-simple", sql);
    expect(result.rows).toBe(ROWS);
    // email (when not NULL), ssn and the card in note, in every row
    expect(result.maskedCells).toBe(ROWS - Math.floor(ROWS / 3) + 2 * ROWS);
    expect(gh.output()).not.toContain("masking worker started");
  });

  it("extended protocol: the same, with a parameter", async () => {
    const text = "select id, email, ssn, note from people where id > $1 order by id";
    const c = client("runs-extended");
    await c.connect();
    try {
      expectMasked((await c.query({ text, values: [0] })).rows);
    } finally {
      await c.end();
    }
    const result = await resultOf("runs-extended", text);
    expect(result.rows).toBe(ROWS);
    expect(result.maskedCells).toBe(ROWS - Math.floor(ROWS / 3) + 2 * ROWS);
  });
});
