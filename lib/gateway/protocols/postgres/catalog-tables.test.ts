import { beforeAll, describe, expect, it } from "vitest";
import { catalogTables, parseTableName, writtenTables } from "./catalog-tables";
import { initClassifier } from "./classify";
import type { RelationInfo } from "./metadata";

const table = (schema: string, name: string): RelationInfo => ({ schema, name, columns: ["k"] });
const view = (schema: string, name: string, definition: string): RelationInfo => ({ schema, name, columns: ["k"], lineage: "opaque", definition });

/** A catalog as metadata.ts `relations` answers: qualified = exactly that, bare = every schema. */
function catalog(relations: RelationInfo[], asked: string[] = []) {
  return async (ref: { schema?: string; name: string }) => {
    asked.push(`${ref.schema ?? "*"}.${ref.name}`);
    return relations.filter((r) => r.name === ref.name && (ref.schema === undefined || r.schema === ref.schema));
  };
}

const CATALOG = [
  table("public", "secrets"),
  table("other", "secrets"),
  table("public", "items"),
  table("public", "Odd.Name"),
  view("public", "secrets_v", " SELECT secrets.k\n   FROM secrets;"),
  view("public", "v_over_v", " SELECT secrets_v.k\n   FROM secrets_v;"),
  view("reports", "n", " SELECT count(*) AS count\n   FROM public.secrets\n  WHERE (secrets.k <> ''::text);"),
];

beforeAll(() => initClassifier());

describe("parseTableName", () => {
  it.each([
    ["secrets", { name: "secrets" }],
    ["public.secrets", { schema: "public", name: "secrets" }],
    ['"Odd.Name"', { name: "Odd.Name" }],
    ['public."Odd.Name"', { schema: "public", name: "Odd.Name" }],
    ['"a""b".c', { schema: 'a"b', name: "c" }],
    ["db.public.secrets", { schema: "public", name: "secrets" }],
  ])("%s", (text, ref) => expect(parseTableName(text)).toEqual(ref));
});

describe("catalogTables", () => {
  it("a qualified name adds the bare name, a bare one every schema's qualified name", async () => {
    expect(await catalogTables(["public.secrets"], catalog(CATALOG))).toEqual(["public.secrets", "secrets"]);
    expect(await catalogTables(["secrets"], catalog(CATALOG))).toEqual(["other.secrets", "public.secrets", "secrets"]);
  });

  it("a view adds what its definition reads, through views over views", async () => {
    expect(await catalogTables(["v_over_v"], catalog(CATALOG))).toEqual(["other.secrets", "public.secrets", "public.secrets_v", "public.v_over_v", "secrets", "secrets_v", "v_over_v"]);
    expect(await catalogTables(["reports.n"], catalog(CATALOG))).toEqual(["n", "public.secrets", "reports.n", "secrets"]);
  });

  it("names the catalog does not know stay as written; quoted names stay quoted", async () => {
    expect(await catalogTables(["nowhere", 'public."Odd.Name"'], catalog(CATALOG))).toEqual(['"Odd.Name"', "nowhere", 'public."Odd.Name"']);
  });

  it("each name is looked up once", async () => {
    const asked: string[] = [];
    await catalogTables(["secrets_v", "v_over_v", "secrets"], catalog(CATALOG, asked));
    expect(asked.sort()).toEqual(["*.secrets", "*.secrets_v", "*.v_over_v"]);
  });

  it("fails (the caller takes the statement as unknown) when the catalog or a view cannot be read", async () => {
    await expect(catalogTables(["secrets"], async () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    await expect(catalogTables(["bad"], catalog([view("public", "bad", "SELEC 1")]))).rejects.toThrow("cannot be followed");
    const loop = Array.from({ length: 300 }, (_, i) => view("public", `v${i}`, `select * from v${i + 1}`));
    await expect(catalogTables(["v0"], catalog(loop))).rejects.toThrow("relations to follow");
  });
});

describe("writtenTables (a serial upstream whose catalog cannot answer now)", () => {
  it("a qualified name adds its bare name", () => {
    expect(writtenTables(["public.secrets", '"public"."Odd.Name"', "items"])).toEqual(['"Odd.Name"', '"public"."Odd.Name"', "items", "public.secrets", "secrets"]);
  });
});
