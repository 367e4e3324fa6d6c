import { beforeAll, describe, expect, it } from "vitest";
import type { MaskingRule } from "@/lib/gateway/masking";
import { initClassifier } from "./classify";
import { inferenceRefusal } from "./inference";

const rule = (columns: string[], more: Partial<MaskingRule> = {}): MaskingRule => ({ id: "r1", name: "pii-columns", enabled: true, detectors: [], columns, style: "redact", blockInference: true, ...more });
const SSN = [rule(["public.customers.ssn"])];
const refusal = (sql: string, rules = SSN, prepared: (name: string) => string | null = () => null) => inferenceRefusal(sql, rules, "crm", prepared);

describe("inferenceRefusal", () => {
  beforeAll(() => initClassifier());

  it.each([
    "SELECT ssn FROM customers",
    "SELECT id, ssn, name FROM customers WHERE id = 1 ORDER BY id",
    "SELECT c.ssn AS s FROM public.customers c WHERE c.name LIKE 'a%'",
    "SELECT * FROM customers",
    "SELECT c.* FROM customers c ORDER BY c.id",
    "SELECT c FROM customers c",
    "SELECT ssn, id FROM customers ORDER BY 2",
    "SELECT ssn FROM customers LIMIT 5 OFFSET 1",
    "SELECT count(*) FROM customers WHERE name = 'x'",
    "SELECT id FROM customers c JOIN orders o ON o.customer_id = c.id",
    "SELECT id FROM customers JOIN orders USING (id)",
    "WITH big AS (SELECT id FROM orders WHERE total > 10) SELECT ssn FROM customers WHERE id IN (SELECT id FROM big)",
    "SELECT 1; SELECT ssn FROM customers",
    "UPDATE customers SET name = 'x' WHERE id = 1",
    "SELECT DISTINCT name FROM customers",
    "DECLARE _psql_cursor NO SCROLL CURSOR FOR SELECT id, ssn FROM customers",
    "PREPARE q AS SELECT ssn FROM customers WHERE id = $1",
    // EXISTS reads whether a row comes back, not what is in it
    "SELECT id FROM orders o WHERE EXISTS (SELECT * FROM customers c WHERE c.id = o.customer_id)",
    "SELECT id FROM orders o WHERE NOT EXISTS (SELECT c.ssn, 1 FROM customers c WHERE c.id = o.customer_id)",
  ])("allows %s", (sql) => {
    expect(refusal(sql)).toBeNull();
  });

  it.each([
    ["SELECT id FROM customers WHERE ssn LIKE '123-45-%'", /column "ssn".*"pii-columns".*WHERE/],
    ["SELECT id FROM customers ORDER BY ssn", /ORDER BY/],
    ["SELECT count(*) FROM customers GROUP BY ssn", /GROUP BY/],
    ["SELECT name FROM customers GROUP BY name HAVING max(ssn) > '5'", /HAVING/],
    ["SELECT length(ssn) FROM customers", /select list, inside length\(\)/],
    ["SELECT id FROM customers WHERE substr(ssn, 1, 3) = '123'", /WHERE, inside substr\(\)/],
    ["SELECT ssn::int FROM customers", /select list/],
    ["SELECT ssn = '123-45-6789' FROM customers", /select list/],
    ["SELECT a.id FROM customers a JOIN leads b ON a.ssn = b.ssn", /JOIN ON/],
    ["SELECT a.id FROM customers a JOIN leads b USING (ssn)", /JOIN USING/],
    ["SELECT a.id FROM customers a NATURAL JOIN leads b", /NATURAL JOIN/],
    ["SELECT DISTINCT ON (ssn) id FROM customers", /DISTINCT ON/],
    ["SELECT DISTINCT ssn FROM customers", /output column "ssn".*DISTINCT/],
    ["SELECT id, row_number() OVER (PARTITION BY ssn) FROM customers", /PARTITION BY/],
    ["SELECT id, rank() OVER (ORDER BY ssn) FROM customers", /window's ORDER BY/],
    ["SELECT id, rank() OVER w FROM customers WINDOW w AS (ORDER BY ssn)", /window's ORDER BY/],
    ["SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE ssn LIKE '1%')", /WHERE of a subquery in WHERE/],
    ["SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id AND c.ssn > '5')", /subquery/],
    ["SELECT id FROM orders o WHERE EXISTS (SELECT * FROM customers c WHERE c.id = o.customer_id AND c.ssn > '5')", /subquery/],
    ["SELECT id FROM orders o WHERE EXISTS (SELECT 1 / (ssn::int - 5) FROM customers c)", /subquery/],
    ["SELECT id FROM orders WHERE EXISTS (SELECT ssn FROM customers UNION SELECT ssn FROM leads)", /UNION/],
    ["WITH x AS (SELECT id FROM customers WHERE ssn LIKE '1%') SELECT id FROM x", /WITH query/],
    ["WITH x AS (SELECT ssn AS s FROM customers) SELECT s FROM x", /select list of a subquery/],
    ["SELECT s FROM (SELECT ssn AS s FROM customers) t", /subquery/],
    ["SELECT id FROM customers c WHERE c::text LIKE '%123-45%'", /whole row of "c".*WHERE/],
    ["SELECT id FROM customers WHERE row_to_json(customers)::text LIKE '%1%'", /whole row of "customers"/],
    ["SELECT id FROM customers c WHERE row_to_json(c.*)::text LIKE '%1%'", /star.*WHERE/],
    ["SELECT id FROM customers c WHERE (c).ssn LIKE '1%'", /WHERE/],
    ["SELECT id FROM orders WHERE ROW(1, '123-45-6789') IN (SELECT * FROM customers)", /star/],
    ["SELECT c.id FROM customers c, LATERAL (SELECT 1 WHERE c.ssn LIKE '1%') x", /subquery in FROM|WHERE of a subquery/],
    ["SELECT ssn FROM customers UNION SELECT '123-45-6789'", /UNION branch/],
    ["SELECT id FROM customers WHERE ssn > '5' UNION ALL SELECT 1", /UNION branch/],
    ["SELECT ssn FROM customers INTERSECT SELECT '123-45-6789'", /INTERSECT branch/],
    ['SELECT id FROM customers WHERE "SSN" LIKE \'1%\'', /column "SSN"/],
    ["SELECT id FROM public.customers WHERE public.customers.ssn LIKE '1%'", /column "ssn"/],
    ["SELECT id FROM customers_view WHERE ssn LIKE '1%'", /WHERE/],
    ["SELECT ssn FROM customers ORDER BY 1", /output column 1/],
    ["SELECT ssn AS x FROM customers ORDER BY x", /output column "x"/],
    ["SELECT ssn FROM customers GROUP BY 1", /output column 1.*GROUP BY/],
    ["SELECT * FROM customers ORDER BY 2", /output column 2/],
    ["SELECT c FROM customers c ORDER BY 1", /output column 1/],
    ["SELECT x FROM customers c(x, y, z)", /column alias list/],
    ["SELECT count(*) FILTER (WHERE ssn LIKE '1%') FROM customers", /FILTER/],
    ["SELECT string_agg(name, ',' ORDER BY ssn) FROM customers", /aggregate's ORDER BY/],
    ["UPDATE customers SET name = name WHERE ssn LIKE '1%'", /WHERE/],
    ["DELETE FROM customers WHERE ssn LIKE '1%' RETURNING id", /WHERE/],
    ["EXPLAIN ANALYZE SELECT id FROM customers WHERE ssn LIKE '1%'", /WHERE/],
    ["DECLARE c CURSOR FOR SELECT id FROM customers ORDER BY ssn", /ORDER BY/],
    ["PREPARE p AS SELECT id FROM customers WHERE ssn = $1", /WHERE/],
    ["INSERT INTO t SELECT id FROM customers WHERE ssn LIKE '1%'", /WHERE/],
    ["INSERT INTO customers (id, ssn) VALUES (1, 'x') ON CONFLICT (ssn) DO NOTHING", /column "ssn"/],
    ["SELECT 1; SELECT id FROM customers WHERE ssn LIKE '1%'", /WHERE/],
    ["DO $$ BEGIN PERFORM 1; END $$", /code written as a string/],
    ["EXECUTE unknown_stmt", /unknown to the gateway/],
    ["SELECT id FROM customers WHERE", /cannot be analysed/],
  ])("refuses %s", (sql, why) => {
    expect(refusal(sql)).toMatch(why);
  });

  it("reads an EXECUTE's prepared statement", () => {
    const prepared = (name: string) => (name === "p" ? "SELECT id FROM customers WHERE ssn = $1" : name === "q" ? "SELECT ssn FROM customers WHERE id = $1" : null);
    expect(refusal("EXECUTE p('123-45-6789')", SSN, prepared)).toMatch(/WHERE/);
    expect(refusal("EXECUTE q(1)", SSN, prepared)).toBeNull();
    // an EXECUTE of what this text PREPAREd before it is that statement; before the PREPARE, the session's
    expect(refusal("PREPARE r AS SELECT ssn FROM customers WHERE id = $1; EXECUTE r(1)")).toBeNull();
    expect(refusal("PREPARE r AS SELECT id FROM customers WHERE ssn = $1; EXECUTE r('1')")).toMatch(/WHERE/);
    expect(refusal("EXECUTE r(1); PREPARE r AS SELECT 1")).toMatch(/EXECUTE r/);
  });

  it("applies only rules that block inference, on their connection", () => {
    const sql = "SELECT id FROM customers WHERE ssn LIKE '1%'";
    expect(refusal(sql, [rule(["customers.ssn"], { blockInference: false })])).toBeNull();
    expect(refusal(sql, [rule(["customers.ssn"], { blockInference: undefined })])).toBeNull();
    expect(refusal(sql, [rule(["customers.ssn"], { enabled: false })])).toBeNull();
    expect(refusal(sql, [rule(["other/public/customers/ssn"])])).toBeNull();
    expect(refusal(sql, [rule(["crm/public/customers/ssn"])])).toMatch(/WHERE/);
    expect(refusal(sql, [rule(["*.email"])])).toBeNull();
    expect(refusal("SELECT id FROM customers WHERE lower(email) = 'a@b.c'", [rule(["*.email"])])).toMatch(/email/);
  });

  it("a column glob guards every column of the tables it names", () => {
    const rules = [rule(["customers.*"])];
    expect(refusal("SELECT id FROM customers WHERE name = 'x'", rules)).toMatch(/column "name"/);
    expect(refusal("SELECT id FROM orders WHERE total > 5", rules)).toBeNull();
    expect(refusal("SELECT name, id FROM customers", rules)).toBeNull();
  });
});

describe("inferenceRefusal with view columns", () => {
  beforeAll(() => initClassifier());

  it("guards the names views give a guarded column", () => {
    const views = [{ name: "tax_no", rule: "pii-columns" }];
    expect(inferenceRefusal("SELECT id FROM customer_ids WHERE tax_no LIKE '1%'", SSN, "crm", () => null, views)).toMatch(/column "tax_no".*WHERE/);
    expect(inferenceRefusal("SELECT tax_no FROM customer_ids", SSN, "crm", () => null, views)).toBeNull();
    expect(inferenceRefusal("SELECT id FROM customer_ids WHERE tax_no LIKE '1%'", SSN, "crm")).toBeNull();
  });
});

describe("inferenceRefusal messages", () => {
  beforeAll(() => initClassifier());

  it("name the clause a subquery's reference sits in", () => {
    expect(refusal("SELECT id FROM orders WHERE EXISTS (SELECT 1 FROM customers c HAVING max(ssn) > '1')")).toBe('column "ssn" (masking rule "pii-columns", which blocks inference) is used in HAVING of a subquery in WHERE, inside max()');
    expect(refusal("SELECT id FROM customers c ORDER BY c.ssn FOR UPDATE OF c")).toBe('column "ssn" (masking rule "pii-columns", which blocks inference) is used in ORDER BY');
  });
});
