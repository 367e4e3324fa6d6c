import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify/parser";
import { bodyStatements, namesOfReadingBody } from "./extension-bodies";

describe("extension-bodies: an extension SQL function's body", () => {
  beforeAll(() => initClassifier());

  it("a parsed body comes back from pg_get_function_sqlbody as statements", () => {
    expect(bodyStatements("BEGIN ATOMIC\n SELECT 1;\n SELECT 2;\nEND", true)).toBe("\n SELECT 1;\n SELECT 2;\n");
    expect(bodyStatements("RETURN (1 + 1)", true)).toBe("SELECT  (1 + 1)");
    expect(bodyStatements("select $1", false)).toBe("select $1");
    expect(bodyStatements("something else", true)).toBeNull();
  });

  it("a read gives what it names; more than a read, or what cannot be analysed, gives null", () => {
    expect(namesOfReadingBody("SELECT pg_catalog.lower($1) || 'x' FROM pg_catalog.pg_class c WHERE c.relname = $2::text")).toEqual({
      function: ["lower"],
      operator: ["=", "||"],
      type: ["text"],
      relation: ["pg_class"],
    });
    for (const body of [
      "select nextval('s')",
      "insert into t values (1)",
      "with x as (delete from t returning 1) select * from x",
      "select * from t for update",
      "select set_config('a.b', 'c', false)",
      "select query from pg_catalog.pg_stat_get_activity(null)",
      "select jsonb_populate_record(null::t, '{}')",
      "select domain_in('1', 'd'::regtype, -1)",
      "select 1; create table t (a int)",
      "not sql at all",
      null,
    ]) {
      expect(namesOfReadingBody(body), String(body)).toBeNull();
    }
  });
});
