import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify";
import { codeNamesOf } from "./user-code";

beforeAll(() => initClassifier());

describe("codeNamesOf", () => {
  it("finds functions, procedures, operators, casts and relations wherever they are written", () => {
    const names = codeNamesOf("SELECT public.f(x)::mytype FROM t WHERE a ### 1 AND b IN (SELECT g() FROM s.u)")!;
    const sorted = (list: { schema?: string; name: string }[]) => list.map((n) => (n.schema ? `${n.schema}.${n.name}` : n.name)).sort();
    expect(sorted(names.function)).toEqual(["g", "public.f"]);
    expect(sorted(names.operator)).toEqual(["###", "="]); // IN (SELECT ...) compares with =
    expect(sorted(names.cast)).toEqual(["mytype"]);
    expect(sorted(names.relation)).toEqual(["s.u", "t"]);
    expect(codeNamesOf("CALL copy_proc(1)")?.function).toEqual([{ name: "copy_proc" }]);
    expect(codeNamesOf("SELECT 1 OPERATOR(public.###) 2")?.operator).toEqual([{ schema: "public", name: "###" }]);
    expect(codeNamesOf("SELECT x FROM t ORDER BY x USING ###")?.operator).toEqual([{ name: "###" }]);
    expect(codeNamesOf("SELECT x::int FROM t")?.cast).toEqual([{ schema: "pg_catalog", name: "int4" }]);
  });

  it("finds the operators PostgreSQL looks up by name that the text does not spell: CASE x WHEN, IN (SELECT), BETWEEN, JOIN USING", () => {
    const ops = (sql: string) => codeNamesOf(sql)!.operator.map((n) => n.name).sort();
    expect(ops("select case 1 when 'x'::text then 1 end")).toEqual(["="]);
    expect(ops("select 1 in (select 'x'::text)")).toEqual(["="]);
    expect(ops("select 1 < all (select 2)")).toEqual(["<"]);
    expect(ops("select 1 between 'a'::text and 'b'::text")).toEqual(["<=", ">="]);
    expect(ops("select 1 not between symmetric 2 and 3")).toEqual(["<", ">"]);
    expect(ops("select * from a join b using (id)")).toEqual(["="]);
    expect(ops("select * from a natural join b")).toEqual(["="]);
    expect(ops("select case when a then 1 end")).toEqual([]);
  });

  it("follows EXECUTE into the prepared statement, and gives up on what it cannot read", () => {
    expect(codeNamesOf("EXECUTE p", () => "SELECT leak()")?.function).toEqual([{ name: "leak" }]);
    expect(codeNamesOf("EXECUTE p")).toBeNull();
    expect(codeNamesOf("not sql")).toBeNull();
  });

  it("marks a statement that converts into a relation's row type without naming it", () => {
    expect(codeNamesOf("SELECT jsonb_populate_record(t, '{}') FROM t")?.populates).toBe(true);
    expect(codeNamesOf("SELECT pg_catalog.json_populate_recordset(c, '[]') FROM t_comp")?.populates).toBe(true);
    expect(codeNamesOf("SELECT t #= 'a=>1'::hstore FROM t")?.populates).toBe(true);
    expect(codeNamesOf("SELECT to_jsonb(t) FROM t")?.populates).toBeUndefined();
  });

  it("takes an EXECUTE of a name this text PREPAREd before it as that statement, and a PREPARE's parameter types as casts", () => {
    const session = () => "SELECT session_code()";
    expect(codeNamesOf("PREPARE p AS SELECT f(1) FROM t; EXECUTE p", session)).toMatchObject({ function: [{ name: "f" }], relation: [{ name: "t" }] });
    // before its PREPARE, an EXECUTE runs the session's statement of that name
    expect(codeNamesOf("EXECUTE p; PREPARE p AS SELECT f(1)", session)?.function).toEqual([{ name: "session_code" }, { name: "f" }]);
    expect(codeNamesOf("EXECUTE p; PREPARE p AS SELECT 1")).toBeNull();
    expect(codeNamesOf("PREPARE p(posdom, s.d2) AS SELECT $1; EXECUTE p(5)")?.cast).toEqual([{ name: "posdom" }, { schema: "s", name: "d2" }]);
  });
});
