import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { classifySql, columnSourcesOfSelect, initClassifier } from "./classify";

beforeAll(() => initClassifier());

const sources = (sql: string) => columnSourcesOfSelect(sql)?.map((c) => c.sources);

describe("columnSourcesOfSelect: derivations masking must follow", () => {
  it.each([
    ["SELECT ssn FROM customers", ["customers.ssn"]],
    ["SELECT ssn::text FROM customers", ["customers.ssn"]],
    ["SELECT encode(ssn::bytea, 'hex') FROM customers", ["customers.ssn"]],
    ["SELECT upper(email) FROM customers", ["customers.email"]],
    ["SELECT reverse(replace(email, '@', ' at ')) FROM customers", ["customers.email"]],
    ["SELECT ssn || '' FROM customers", ["customers.ssn"]],
    ["SELECT string_agg(email, ',') FROM customers", ["customers.email"]],
    ["SELECT json_agg(c.ssn ORDER BY c.id) FROM customers c", ["customers.id", "customers.ssn"]],
    ["SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE name END FROM customers", ["customers.name", "customers.ssn"]],
    ["SELECT row_to_json(c) FROM customers c", ["customers.*", "customers.c"]],
    ["SELECT to_jsonb(c.*) FROM customers c", ["customers.*"]],
    ["SELECT c FROM customers c", ["customers.*", "customers.c"]],
    ["SELECT (SELECT max(ssn) FROM customers) FROM orders", ["customers.ssn", "orders.ssn"]],
    ["SELECT ARRAY(SELECT email FROM customers)", ["customers.email"]],
    ["SELECT count(*) FROM customers", []],
    ["SELECT 1, 'x', $1", [], [], []],
  ])("%s", (sql, ...expected) => {
    expect(sources(sql)).toEqual(expected);
  });

  it("resolves aliases, schemas and quoted names", () => {
    expect(columnSourcesOfSelect('SELECT c.email AS e, public.orders.total FROM public.customers c, public.orders')).toEqual([
      { name: "e", sources: ["public.customers.email"] },
      { name: "total", sources: ["public.orders.total"] },
    ]);
    expect(columnSourcesOfSelect('SELECT "SSN" FROM "Customers"')).toEqual([{ name: "SSN", sources: ["Customers.SSN"] }]);
  });

  it("expands * and t.* to a star marker per table", () => {
    expect(columnSourcesOfSelect("SELECT * FROM customers")).toEqual([{ name: "*", sources: ["customers.*"], star: true }]);
    expect(columnSourcesOfSelect("SELECT c.*, o.id FROM customers c JOIN orders o ON o.cid = c.id")).toEqual([
      { name: "*", sources: ["customers.*"], star: true },
      { name: "id", sources: ["orders.id"] },
    ]);
    expect(sources("SELECT * FROM customers, orders")).toEqual([["customers.*"], ["orders.*"]]);
  });

  it("an unqualified column with several tables in scope yields every candidate", () => {
    expect(sources("SELECT email FROM customers c JOIN orders o USING (id)")).toEqual([["customers.email", "orders.email"]]);
  });

  it("follows subqueries, CTEs, renames and set operations", () => {
    expect(columnSourcesOfSelect("SELECT s.x FROM (SELECT ssn AS x FROM customers) s")).toEqual([{ name: "x", sources: ["customers.ssn"] }]);
    expect(columnSourcesOfSelect("SELECT * FROM (SELECT ssn, email FROM customers) s(a, b)")).toEqual([
      { name: "a", sources: ["customers.ssn"] },
      { name: "b", sources: ["customers.email"] },
    ]);
    expect(sources("WITH t AS (SELECT ssn FROM customers) SELECT t.ssn FROM t")).toEqual([["customers.ssn"]]);
    expect(sources("WITH t(k) AS (SELECT ssn FROM customers) SELECT k FROM t")).toEqual([["customers.ssn"]]);
    expect(sources("SELECT ssn FROM customers UNION ALL SELECT email FROM users")).toEqual([["customers.ssn", "users.email"]]);
    // a renamed table hides which column is which: the whole table
    expect(sources("SELECT a FROM customers AS c(a, b)")).toEqual([["customers.*"]]);
  });

  it("follows data-modifying CTEs and RETURNING (old/new in PostgreSQL 18)", () => {
    expect(columnSourcesOfSelect("WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d")).toEqual([{ name: "*", sources: ["customers.*"], star: true }]);
    expect(sources("UPDATE customers SET ssn = '1' RETURNING old.ssn, new.email")).toEqual([["customers.ssn"], ["customers.email"]]);
  });

  it("a returned column of the written table carries what the statement wrote (it returns the row after the write)", () => {
    expect(sources("UPDATE customers SET name = ssn RETURNING name, id")).toEqual([["customers.name", "customers.ssn"], ["customers.id", "customers.ssn"]]);
    expect(sources("UPDATE customers c SET name = o.ssn FROM orders o RETURNING c.name")).toEqual([["customers.name", "orders.ssn"]]);
    expect(columnSourcesOfSelect("UPDATE customers SET name = ssn RETURNING *")).toEqual([{ name: "*", sources: ["customers.*", "customers.ssn"], star: true }]);
    expect(sources("INSERT INTO notes (id, body) SELECT id, ssn FROM customers RETURNING body")).toEqual([["customers.id", "customers.ssn", "notes.body"]]);
    expect(sources("INSERT INTO notes VALUES (1, (SELECT ssn FROM customers LIMIT 1)) RETURNING body")).toEqual([["customers.ssn", "notes.body"]]);
    expect(sources("INSERT INTO notes VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET body = notes.secret RETURNING body")).toEqual([["notes.body", "notes.secret"]]);
    expect(sources("MERGE INTO notes n USING customers c ON n.id = c.id WHEN MATCHED THEN UPDATE SET body = c.ssn RETURNING n.body")).toEqual([["customers.ssn", "notes.body"]]);
    // constants write nothing from anywhere; a DELETE returns the stored row
    expect(sources("INSERT INTO notes VALUES (1, 'x') RETURNING id")).toEqual([["notes.id"]]);
    expect(sources("UPDATE customers SET name = 'x' WHERE ssn = '1' RETURNING id")).toEqual([["customers.id"]]);
  });

  it("reports unknown where values may come from anywhere", () => {
    expect(sources("SELECT get_ssn(id) FROM customers")).toEqual([["customers.id", "unknown"]]);
    expect(sources("SELECT query_to_xml('select ssn from customers', true, false, '')")).toEqual([["unknown"]]);
    expect(sources("SELECT * FROM pg_read_file('/etc/passwd') f")).toEqual([["unknown"]]);
    expect(sources("SELECT f.x FROM generate_series(1, 3) AS f(x)")).toEqual([["unknown"]]);
    expect(sources("SELECT public.upper(email) FROM customers")).toEqual([["customers.email", "unknown"]]);
    // a qualified name no relation answers to (`catalog.schema.t` written another way): every candidate too
    expect(sources("SELECT other.tbl.col FROM customers")).toEqual([["customers.col", "unknown"]]);
    // PostgreSQL reads a.b with no relation `a` as field b of a composite column a
    expect(sources("SELECT addr.zip FROM customers")).toEqual([["customers.addr"]]);
  });

  it("covers COPY ... TO STDOUT, DECLARE CURSOR and PREPARE (EXECUTE sends no new RowDescription)", () => {
    expect(sources("COPY customers TO STDOUT")).toEqual([["customers.*"]]);
    expect(sources("COPY customers (ssn, email) TO STDOUT")).toEqual([["customers.ssn"], ["customers.email"]]);
    expect(sources("COPY (SELECT upper(ssn) FROM customers) TO STDOUT")).toEqual([["customers.ssn"]]);
    expect(sources("DECLARE c CURSOR FOR SELECT ssn FROM customers")).toEqual([["customers.ssn"]]);
    expect(sources("PREPARE p AS SELECT ssn FROM customers WHERE id = $1")).toEqual([["customers.ssn"]]);
  });

  it("returns null when there is nothing to analyse", () => {
    for (const sql of ["", "SELECT 1; SELECT 2", "SELEC 1", "SET role x", "EXECUTE p", "SELECT 1\0"]) expect(columnSourcesOfSelect(sql)).toBeNull();
  });

  it("names output columns as PostgreSQL would", () => {
    expect(columnSourcesOfSelect("SELECT upper(email), ssn::text, ssn || '', (SELECT max(x) FROM t), EXISTS (SELECT 1), CASE WHEN true THEN 1 END FROM customers")?.map((c) => c.name)).toEqual([
      "upper",
      "ssn",
      "?column?",
      "max",
      "exists",
      "case",
    ]);
  });
});

describe("robustness", () => {
  it("never throws on arbitrary text, and never reports read for what it cannot parse", () => {
    const sqlish = fc.array(fc.constantFrom("SELECT", "DELETE", "FROM", "t", "(", ")", ",", ";", "'", "$$", "--", "/*", "*/", "*", "WITH", "AS", "x", "1", " ", "\n", "é"), { maxLength: 30 }).map((p) => p.join(" "));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), sqlish), (sql) => {
        columnSourcesOfSelect(sql);
        const c = classifySql(sql);
        if (c.parseError) expect(c.kind).toBe("unknown");
        expect(["read", "write", "ddl", "admin", "unknown"]).toContain(c.kind);
      }),
      { numRuns: 2000 },
    );
  });
});
