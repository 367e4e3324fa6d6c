import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { addConnection, addMaskingRule, addUser, ofKind, pgUpstream, putPolicies, sessionsOf, type Rec } from "../support/api-fixture";
import { gatewayClient } from "../support/gateway-pg";
import { gatewayConninfo, runPsql } from "../support/psql";
import { mcpRunSql, resultText } from "../support/mcp-run-sql";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";

/**
 * Masking rules with `blockInference` (postgres/inference.ts), with real psql through a real
 * Gatehouse to a real PostgreSQL 15. The same column is masked on two connections: on `inf-on`
 * by a rule that blocks inference, on `inf-off` by one that does not. Every statement below
 * reveals SSNs without returning them (the row it returns says which SSN matched): refused on
 * `inf-on` with 42501 and the session goes on, run (and masked) on `inf-off`.
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("read-guarded")
@mask("guarded")
permit (principal, action == Gatehouse::Action::"read", resource)
when { resource.name == "inf-on" };

@id("read-plain")
@mask("plain")
permit (principal, action == Gatehouse::Action::"read", resource)
when { resource.name == "inf-off" };
`;

const MEMBER = "inference@example.test";
const SSNS = ["123-45-6789", "987-65-4321"];

/** [statement, the clause the refusal names] */
const INFERRING: [string, RegExp][] = [
  ["SELECT id FROM customers WHERE ssn LIKE '123-45-%'", /column "ssn".*in WHERE/],
  ["SELECT c.id FROM customers c JOIN leads l ON c.ssn = l.ssn", /JOIN ON/],
  ["SELECT customers.id FROM customers JOIN leads USING (ssn)", /JOIN USING/],
  ["SELECT count(*) FROM customers GROUP BY ssn", /GROUP BY/],
  ["SELECT name FROM customers GROUP BY name HAVING max(ssn) LIKE '123%'", /HAVING/],
  ["SELECT id FROM customers ORDER BY ssn", /ORDER BY/],
  ["SELECT ssn FROM customers ORDER BY 1", /output column 1.*ORDER BY/],
  ["SELECT DISTINCT ON (ssn) id FROM customers", /DISTINCT ON/],
  ["SELECT id, count(*) OVER (PARTITION BY ssn) FROM customers", /PARTITION BY/],
  ["SELECT id, rank() OVER (ORDER BY ssn) FROM customers", /window's ORDER BY/],
  ["SELECT id, length(ssn) FROM customers", /select list, inside length\(\)/],
  ["SELECT id FROM customers WHERE substr(ssn, 1, 3) = '123'", /WHERE, inside substr\(\)/],
  ["SELECT id FROM customers WHERE ssn::text > '5'", /WHERE/],
  ["SELECT id FROM leads WHERE id IN (SELECT id FROM customers WHERE ssn LIKE '123%')", /WHERE of a subquery in WHERE/],
  ["WITH x AS (SELECT id FROM customers WHERE ssn LIKE '123%') SELECT id FROM x", /WITH query/],
  ["SELECT id FROM customers c WHERE c::text LIKE '%123-45%'", /whole row of "c"/],
  ["SELECT id FROM customers c WHERE row_to_json(c)::text LIKE '%123-45%'", /whole row of "c"/],
  ["SELECT id FROM leads WHERE (1, 'ann', '123-45-6789') IN (SELECT * FROM customers)", /star/],
  // a view that renames the column: the catalog says what tax_no is made of
  ["SELECT id FROM customer_ids WHERE tax_no LIKE '123%'", /column "tax_no".*"ssn-guarded".*WHERE/],
];

describe("PostgreSQL masking rules that block inference", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let admin = "";
  let token = "";
  const sessions = sessionsOf(() => gh, () => admin, "postgres");
  const track: postgres.Sql[] = [];
  const mcpClients: Client[] = [];

  const psql = (db: string, ...statements: string[]) =>
    runPsql(gatewayConninfo(gh.ports.postgres, db, MEMBER), token, ["-A", "-t", "-v", "VERBOSITY=verbose", ...statements.flatMap((s) => ["-c", s])]);
  const expectNoSsn = (out: string) => {
    for (const s of SSNS) expect(out, out).not.toContain(s);
  };

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, MEMBER);
    for (const name of ["inf-on", "inf-off"]) await addConnection(gh, admin, name, { ...pgUpstream(pg15), tags: ["staging"] });
    await addMaskingRule(gh, admin, { name: "ssn-guarded", ruleSet: "guarded", columns: ["public.customers.ssn"], style: "redact", blockInference: true });
    await addMaskingRule(gh, admin, { name: "ssn-plain", ruleSet: "plain", columns: ["public.customers.ssn"], style: "redact" });
    await putPolicies(gh, admin, POLICIES, "inference test");
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe(`create table customers (id int, name text, ssn text);
      insert into customers values (1, 'ann', '${SSNS[0]}'), (2, 'bob', '${SSNS[1]}');
      create table leads (id int, ssn text);
      insert into leads values (1, '${SSNS[0]}');
      create view customer_ids as select id, ssn as tax_no from customers;`);
    await direct.end();
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...track.map((s) => s.end({ timeout: 1 }).catch(() => {})), ...mcpClients.map((c) => c.close().catch(() => {}))]);
    await teardown(gh, pg15);
  });

  it.each(INFERRING)("refuses %s where the rule blocks inference, and the session goes on", async (sql, clause) => {
    const run = await psql("inf-on", sql, "SELECT 'still-here'");
    expect(run.stderr).toMatch(/ERROR:\s+42501: gatehouse: /);
    expect(run.stderr).toMatch(clause);
    expect(run.stdout.trim()).toBe("still-here");
    expectNoSsn(run.out);
  });

  it.each(INFERRING)("runs %s masked where the rule does not block inference", async (sql) => {
    const run = await psql("inf-off", sql);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).not.toBe("");
    expectNoSsn(run.out);
  });

  it("still returns a masked column as plain output", async () => {
    const run = await psql("inf-on", "SELECT id, ssn FROM customers ORDER BY id", "SELECT c.* FROM customers c WHERE c.id = 2", "SELECT tax_no FROM customer_ids WHERE id = 1");
    expect(run.stderr).toBe("");
    expect(run.stdout.trim().split("\n")).toEqual(["1|[REDACTED]", "2|[REDACTED]", "2|bob|[REDACTED]", "[REDACTED]"]);
  });

  it("refuses through the extended protocol too (a bound parameter is no way around it)", async () => {
    const { sql } = gatewayClient(gh.ports.postgres, { password: token, user: MEMBER, database: "inf-on", track });
    const err = await sql`SELECT id FROM customers WHERE ssn LIKE ${"123-45-%"}`.catch((e: Error & { code?: string }) => e);
    expect(err).toMatchObject({ code: "42501" });
    expect((err as Error).message).toMatch(/column "ssn".*WHERE/);
    expect(await sql`SELECT ssn FROM customers WHERE id = ${1}`).toEqual([{ ssn: "[REDACTED]" }]);
  });

  it("refuses over MCP run_sql too (the same check, in the console's process)", async () => {
    const refused = await mcpRunSql(gh, token, mcpClients, "inf-on", "SELECT id FROM customers WHERE ssn LIKE '123-45-%'");
    expect(refused.isError).toBe(true);
    expect(resultText(refused)).toMatch(/^DENIED: .*column "ssn".*WHERE/);
    const plain = await mcpRunSql(gh, token, mcpClients, "inf-on", "SELECT ssn FROM customers WHERE id = 1");
    expect(plain.isError, resultText(plain)).toBeFalsy();
    expect(resultText(plain)).toContain("[REDACTED]");
    expectNoSsn(resultText(plain));
  });

  it("records the refusal as a denied request", async () => {
    const known = await sessions.ids();
    await psql("inf-on", "SELECT id FROM customers ORDER BY ssn");
    const id = await sessions.opened(known);
    const events = await sessions.recorded(id);
    const request = ofKind(events, "request").find((r: Rec) => String(r.text).includes("ORDER BY ssn"));
    expect(request).toMatchObject({ verdict: "deny", reason: expect.stringMatching(/column "ssn".*"ssn-guarded".*ORDER BY/) });
  });
});
