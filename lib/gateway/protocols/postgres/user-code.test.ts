import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify";
import { codeNamesOf } from "./user-code";

beforeAll(() => initClassifier());

describe("codeNamesOf", () => {
  it("finds functions, procedures, operators, casts and relations wherever they are written", () => {
    const names = codeNamesOf("SELECT public.f(x)::mytype FROM t WHERE a ### 1 AND b IN (SELECT g() FROM s.u)")!;
    const sorted = (list: { schema?: string; name: string }[]) => list.map((n) => (n.schema ? `${n.schema}.${n.name}` : n.name)).sort();
    expect(sorted(names.function)).toEqual(["g", "public.f"]);
    expect(sorted(names.operator)).toEqual(["###"]);
    expect(sorted(names.cast)).toEqual(["mytype"]);
    expect(sorted(names.relation)).toEqual(["s.u", "t"]);
    expect(codeNamesOf("CALL copy_proc(1)")?.function).toEqual([{ name: "copy_proc" }]);
    expect(codeNamesOf("SELECT 1 OPERATOR(public.###) 2")?.operator).toEqual([{ schema: "public", name: "###" }]);
    expect(codeNamesOf("SELECT x FROM t ORDER BY x USING ###")?.operator).toEqual([{ name: "###" }]);
    expect(codeNamesOf("SELECT x::int FROM t")?.cast).toEqual([{ schema: "pg_catalog", name: "int4" }]);
  });

  it("follows EXECUTE into the prepared statement, and gives up on what it cannot read", () => {
    expect(codeNamesOf("EXECUTE p", () => "SELECT leak()")?.function).toEqual([{ name: "leak" }]);
    expect(codeNamesOf("EXECUTE p")).toBeNull();
    expect(codeNamesOf("not sql")).toBeNull();
  });
});
