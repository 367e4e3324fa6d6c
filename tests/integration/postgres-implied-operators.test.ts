import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { sqlOnce, startPostgres15, type Postgres15 } from "../support/postgres";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * Operators a statement runs without spelling them (SECURITY.md "Policy and guardrail bypass
 * (SQL)"): `CASE x WHEN y`, `x IN (SELECT …)`, `= ANY`, `JOIN … USING`, `NATURAL JOIN` compare with
 * `=`, and `BETWEEN` with `>=` and `<=`. PostgreSQL looks each up by name and argument types, so a
 * user's operator of that name on the right types runs, and a user's writing `=` made these
 * "reads" write. Real psql through a real Gatehouse to a real PostgreSQL 15; the control runs the
 * same statements directly and sees them write, so the gateway's refusal is what keeps the
 * audit table empty. With the implied operators left out of codeNamesOf, the six that imply one
 * ran and wrote (checked when this file was written).
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("reads")
permit (principal, action == Gatehouse::Action::"read", resource);
`;

const MEMBER = "implied-ops@example.test";

const IMPLIED: [string, string][] = [
  ["CASE x WHEN y", "select case 1 when 'a'::text then 'hit' else 'miss' end"],
  ["IN (SELECT …)", "select 1 in (select 'a'::text)"],
  // spelled, so refused also before implied operators were looked up: the baseline the others match
  ["= ANY (SELECT …)", "select 1 = any (select 'a'::text)"],
  ["BETWEEN", "select 1 between 'a'::text and 'b'::text"],
  ["NOT BETWEEN", "select 1 not between 'a'::text and 'b'::text"],
  ["JOIN … USING", "select count(*) from (select row(1)::pair as k) a join (select row(1)::pair as k) b using (k)"],
  ["NATURAL JOIN", "select count(*) from (select row(1)::pair as k) a natural join (select row(1)::pair as k) b"],
];

describe("PostgreSQL gateway: operators a statement implies are looked up like the ones it names", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let token = "";

  const psql = (sql: string) => runPsql(gatewayConninfo(gh.ports.postgres, "implied", MEMBER), token, ["-A", "-t", "-v", "VERBOSITY=verbose", "-c", sql]);
  const direct = <T extends Record<string, unknown>[]>(sql: string) => sqlOnce<T>(pg15.url, sql);
  const audited = async () => (await direct<{ n: number }[]>("select count(*)::int as n from audit"))[0].n;

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: MEMBER, password: "a-long-password-1", role: "member", groups: [] })).status).toBe(200);
    token = await login(gh.url, MEMBER, "a-long-password-1");
    const res = await apiCall(gh.url, admin, "POST", "/connections", { name: "implied", type: "postgres", upstream: `postgres://127.0.0.1:${pg15.port}/postgres`, username: "postgres", secret: "gatehouse-test", tags: [] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const put = await apiCall(gh.url, admin, "PUT", "/policies", { text: POLICIES, comment: "implied operators" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await direct(`
      create table audit (body text);
      create function audit_cmp(a int, b text) returns boolean language plpgsql as
        $$ begin insert into audit values ('int-text'); return a::text = b; end $$;
      create operator public.=  (leftarg = int, rightarg = text, function = audit_cmp);
      create operator public.>= (leftarg = int, rightarg = text, function = audit_cmp);
      create operator public.<= (leftarg = int, rightarg = text, function = audit_cmp);
      create operator public.<  (leftarg = int, rightarg = text, function = audit_cmp);
      create operator public.>  (leftarg = int, rightarg = text, function = audit_cmp);
      -- a row type whose = is a user's: JOIN USING and NATURAL JOIN need same-typed keys
      create type pair as (v int);
      create function pair_eq(a pair, b pair) returns boolean language plpgsql as
        $$ begin insert into audit values ('pair'); return a.v = b.v; end $$;
      create operator public.= (leftarg = pair, rightarg = pair, function = pair_eq);`);
  }, 180_000);

  afterAll(async () => {
    await gh?.stop();
    await pg15?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it("control: run directly, each statement runs the user's operator and writes", async () => {
    for (const [what, sql] of IMPLIED) {
      const before = await audited();
      await direct(sql);
      expect(await audited(), `${what} did not run the user's operator directly: the test would prove nothing`).toBeGreaterThan(before);
    }
    await direct("truncate audit");
  });

  it("a statement with no operator of a user's name still runs as a read", async () => {
    const r = await psql("select 1 + 1, upper('x')");
    expect(r.code, r.out).toBe(0);
    expect(r.out.trim()).toBe("2|X");
  });

  it.each(IMPLIED)("through the gateway, %s is not a read: refused (42501) and nothing written", async (_what, sql) => {
    const before = await audited();
    const r = await psql(sql);
    expect(r.out).toContain("42501");
    expect(await audited(), `${sql} wrote through a read-only policy`).toBe(before);
  });
});
