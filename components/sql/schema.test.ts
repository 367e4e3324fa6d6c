import { describe, expect, it } from "vitest";
import type { ResultSet } from "@/lib/sql-console/console";
import { schemaOf } from "./schema";

const set = (rows: (string | null)[][], over: Partial<ResultSet> = {}): ResultSet => ({ command: "SELECT", rowCount: rows.length, columns: ["table_schema", "table_name", "column_name"], rows, truncated: false, ...over });

describe("schemaOf: the catalog query's rows as the editor's completions", () => {
  it("groups columns by table in the catalog's order, one namespace per schema", () => {
    const s = schemaOf(set([["public", "customers", "id"], ["public", "customers", "email"], ["sales", "orders", "id"], ["public", "customers", "ssn"]]))!;
    expect(s.namespace).toEqual({ public: { customers: ["id", "email", "ssn"] }, sales: { orders: ["id"] } });
    expect(s.tables.map((t) => `${t.schema}.${t.table}`)).toEqual(["public.customers", "sales.orders"]);
    expect(s.partial).toBe(false);
  });

  it("a truncated result is a partial schema; NULL cells are skipped", () => {
    const s = schemaOf(set([["public", "t", null], ["public", "t", "a"]], { truncated: true }))!;
    expect(s.namespace).toEqual({ public: { t: ["a"] } });
    expect(s.partial).toBe(true);
  });

  it("is no schema when the answer is not the catalog query's shape (an error, or another statement's result)", () => {
    expect(schemaOf(undefined)).toBeNull();
    expect(schemaOf(set([["x", "y", "z"]], { columns: ["a", "b", "c"] }))).toBeNull();
  });
});
