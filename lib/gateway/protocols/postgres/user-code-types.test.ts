import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify";
import { codeNamesOf } from "./user-code";

/** Types a statement reaches without a cast, whose CHECKs and casts are code written in the database. */
describe("codeNamesOf: types", () => {
  beforeAll(() => initClassifier());

  it("finds a type named in a column definition list, not only in a cast", () => {
    const casts = codeNamesOf("SELECT * FROM json_to_record('{}') AS x(a checked, b public.other)")?.cast;
    expect(casts).toHaveLength(2);
    expect(casts).toEqual(expect.arrayContaining([{ name: "checked" }, { schema: "public", name: "other" }]));
    expect(codeNamesOf("SELECT * FROM json_populate_record(null::forms, '{}')")?.cast).toEqual([{ name: "forms", from: { schema: "pg_catalog", name: "unknown" } }]);
  });

  it("cannot analyse a call converting to a type given by OID at run time", () => {
    for (const sql of [
      "SELECT domain_in('x'::cstring, 'checked'::regtype, -1) IS NULL",
      "SELECT pg_catalog.record_in('(1)'::cstring, 'forms'::regtype, -1) IS NULL",
      "SELECT array_in('{x}', 'checked'::regtype, -1) IS NULL",
      "SELECT pg_input_is_valid('x', 'checked')",
    ])
      expect(codeNamesOf(sql), sql).toBeNull();
    expect(codeNamesOf("SELECT domain_name FROM information_schema.domains")).not.toBeNull();
  });
});
