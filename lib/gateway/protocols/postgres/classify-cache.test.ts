import fc from "fast-check";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { classifySql, initClassifier } from "./classify";
import { classifyCached, classifyCacheStats, clearClassifyCache, shapeKey } from "./classify-cache";

beforeAll(() => initClassifier());
beforeEach(() => clearClassifyCache());

const none = new Map();
const summary = (text: string, c = classifySql(text)) => ({ kind: c.kind, tables: c.tables, functions: c.functions, nodes: c.statements.map((s) => s.node), parseError: !!c.parseError });

describe("shapeKey", () => {
  it("blanks out integer constants and nothing else", () => {
    expect(shapeKey("SELECT abalance FROM pgbench_accounts WHERE aid = 4711;")).toBe("SELECT abalance FROM pgbench_accounts WHERE aid = \0;");
    expect(shapeKey("UPDATE t SET x = x + -25 WHERE id=7")).toBe("UPDATE t SET x = x + -\0 WHERE id=\0");
    expect(shapeKey("select 1")).toBe(shapeKey("select 99999999999999999999"));
    // digits inside names and non-integer numbers are kept as written
    expect(shapeKey("select t1.c2 from t1 where a = 1")).toBe("select t1.c2 from t1 where a = \0");
    expect(shapeKey("select 1.5, 1e5, 0x1f, 1_000, .5, 2")).toBe("select 1.5, 1e5, 0x1f, 1_000, .5, \0");
  });

  it("gives up on anything a few character tests cannot tokenize exactly", () => {
    for (const text of [
      "select 'a' where id = 1",
      'select "x1" where id = 1',
      "select $1 where id = 1",
      "select $$x$$, 1",
      "select E'\\'' , 1",
      "select 1 -- comment",
      "select 1 /* 2 */",
      "select 1 from tëst",
      "select 1\0",
      "select x",
    ]) {
      expect(shapeKey(text), text).toBeNull();
    }
  });
});

describe("classifyCached", () => {
  it("parses a statement shape once (pgbench's simple protocol)", () => {
    const before = { ...classifyCacheStats };
    for (let aid = 1; aid <= 50; aid++) expect(classifyCached(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`, none).kind).toBe("read");
    expect(classifyCacheStats.parsed - before.parsed).toBe(1);
    expect(classifyCacheStats.shape - before.shape).toBe(49);
  });

  it("never shares by shape what a literal can change: EXPLAIN (ANALYZE 0) vs (ANALYZE 1)", () => {
    expect(classifyCached("EXPLAIN (ANALYZE 0) DELETE FROM t", none).kind).toBe("read");
    expect(classifyCached("EXPLAIN (ANALYZE 1) DELETE FROM t", none).kind).toBe("write");
    expect(classifyCached("EXPLAIN (ANALYZE 0) DELETE FROM t", none).kind).toBe("read");
  });

  it("does not cache EXECUTE (resolved against each session's prepared statements) or unparseable text", () => {
    const prepared = new Map([["p", classifySql("DELETE FROM t")]]);
    expect(classifyCached("EXECUTE p", prepared).kind).toBe("write");
    expect(classifyCached("EXECUTE p", none).kind).toBe("unknown");
    expect(classifyCached("SELEC 1", none).kind).toBe("unknown");
  });

  it("property: a cached classification equals a fresh one for any integer values", () => {
    const token = fc.constantFrom(
      "SELECT", "INSERT INTO t VALUES", "UPDATE t SET a =", "DELETE FROM t", "EXPLAIN", "(ANALYZE", "ANALYZE", ")", "(", ",", ";", "FROM", "t", "u.v", "WHERE",
      "a", "=", "+", "-", "*", "LIMIT", "OFFSET", "FOR UPDATE", "nextval(", "pg_sleep(", "set_config(", "BEGIN", "COMMIT", "VALUES", "AS", "x1", "1.5", "1e3",
      "ORDER BY", "GROUP BY", "COPY t TO STDOUT", "PREPARE p AS", "EXECUTE p", "SET statement_timeout =", "FETCH", "DECLARE c CURSOR FOR", "TRUE",
    );
    const num = fc.integer({ min: 0, max: 3 }).map(String);
    const piece = fc.oneof({ weight: 3, arbitrary: token }, { weight: 2, arbitrary: num });
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 12, maxLength: 12 }), (pieces, other) => {
        clearClassifyCache();
        const a = pieces.join(" ");
        let k = 0;
        const b = pieces.map((p) => (/^\d+$/.test(p) ? String(other[k++]) : p)).join(" ");
        classifyCached(a, none);
        expect(summary(b, classifyCached(b, none))).toEqual(summary(b));
      }),
      { numRuns: 3000 },
    );
  });

  it("property: the same over statements whose meaning an integer can change (EXPLAIN options, SET values)", () => {
    const templates = [
      "SELECT a FROM t WHERE a = # LIMIT #",
      "EXPLAIN (ANALYZE #) DELETE FROM t WHERE a = #",
      "EXPLAIN (ANALYZE #, VERBOSE #) UPDATE t SET a = #",
      "EXPLAIN (ANALYZE #) SELECT * FROM t FOR UPDATE",
      "EXPLAIN (ANALYZE #) EXECUTE p(#)",
      "UPDATE t SET a = a + # WHERE id = #",
      "INSERT INTO t VALUES (#, #)",
      "SET statement_timeout = #",
      "SET standard_conforming_strings = #",
      "SET extra_float_digits = #",
      "FETCH # FROM c",
      "DECLARE c CURSOR FOR SELECT #",
      "PREPARE p AS DELETE FROM t WHERE id = #",
      "COPY (SELECT #) TO STDOUT",
      "SELECT pg_sleep(#)",
      "BEGIN",
      "COMMIT",
    ];
    const fill = (tpl: string, nums: number[], at: { k: number }) => tpl.replace(/#/g, () => String(nums[at.k++ % nums.length]));
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...templates), { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 }), (stmts, n1, n2) => {
        clearClassifyCache();
        const a = stmts.map((t) => fill(t, n1, { k: 0 })).join("; ");
        const b = stmts.map((t) => fill(t, n2, { k: 0 })).join("; ");
        classifyCached(a, none);
        expect(summary(b, classifyCached(b, none))).toEqual(summary(b));
        expect(classifyCached(b, none).statements.map((s) => s.settingProblem)).toEqual(classifySql(b).statements.map((s) => s.settingProblem));
      }),
      { numRuns: 2000 },
    );
  });
});
