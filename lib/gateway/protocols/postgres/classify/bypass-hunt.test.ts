import { beforeAll, describe, expect, it } from "vitest";
import { classifySql, columnSourcesOfSelect, initClassifier } from "../classify";
import { ExtendedState } from "../extended";

/**
 * Bypasses found by the SQL/masking hunt (tests/integration/postgres-bypass-hunt.test.ts drives
 * the same inputs through a real Gatehouse and PostgreSQL 15): each case failed before its fix.
 */

beforeAll(() => initClassifier());

const sources = (sql: string) => columnSourcesOfSelect(sql)?.map((c) => c.sources);

describe("column lineage the hunt found lost", () => {
  it.each([
    // a function in FROM returned what went into it, but its columns carried only "unknown"
    ["SELECT x FROM unnest(ARRAY(SELECT password_hash FROM accounts)) AS x", ["accounts.password_hash", "unknown"]],
    ["SELECT * FROM ROWS FROM (reverse((SELECT password_hash FROM accounts LIMIT 1)))", ["accounts.password_hash", "unknown"]],
    ["SELECT x FROM accounts a, LATERAL regexp_split_to_table(reverse(a.password_hash), '@') x", ["accounts.password_hash", "unknown"]],
    [
      "SELECT * FROM xmltable('/r' PASSING xmlelement(name r, (SELECT password_hash FROM accounts LIMIT 1)) COLUMNS v text PATH '.')",
      ["accounts.password_hash", "unknown"],
    ],
    // `public.t.col` over `FROM t` names the same relation
    ["SELECT reverse(public.accounts.password_hash) FROM accounts", ["accounts.password_hash"]],
    ["SELECT reverse(public.accounts.password_hash) FROM public.accounts", ["public.accounts.password_hash"]],
    // a recursive CTE's recursive part may swap columns: the self-reference carries every source
    [
      "WITH RECURSIVE r(n, a, b) AS (SELECT 0, password_hash, ''::text FROM accounts UNION ALL SELECT n + 1, b, a FROM r WHERE n < 1) SELECT reverse(b) FROM r",
      ["accounts.password_hash", "unknown"],
    ],
  ])("%s", (sql, expected) => {
    const got = sources(sql);
    expect(got).toHaveLength(1);
    expect(got![0]).toEqual(expect.arrayContaining(expected));
  });

  it("a schema-qualified reference to a relation not in FROM falls back to every candidate, not to nothing", () => {
    expect(sources("SELECT reverse(s.t.password_hash) FROM accounts")).toEqual([["accounts.password_hash", "unknown"]]);
  });
});

describe("results resolved through names", () => {
  it("DECLARE and FETCH name their cursor (MOVE returns no rows)", () => {
    const c = classifySql("DECLARE c1 CURSOR FOR SELECT reverse(password_hash) FROM accounts; FETCH ALL FROM c1; MOVE 1 IN c1");
    expect(c.kind).toBe("read");
    expect(c.statements.map((s) => [s.declares, s.fetches])).toEqual([
      ["c1", undefined],
      [undefined, "c1"],
      [undefined, undefined],
    ]);
  });

  it("FETCH and EXECUTE resolve to the text whose columns they return; a PREPARE in a multi-statement Query keeps its own text", () => {
    const state = new ExtendedState();
    const text = "SELECT 1; PREPARE p AS SELECT reverse(password_hash) FROM accounts; DECLARE c1 CURSOR FOR SELECT upper(password_hash) FROM accounts";
    for (const p of state.applySqlNamespaceChanges(state.classify(text), text)) p.apply(); // as the relay does on each PREPARE's CommandComplete
    expect(state.statements.get("p")?.text).toBe("PREPARE p AS SELECT reverse(password_hash) FROM accounts");
    const [execute, fetch, other] = state.classify("EXECUTE p; FETCH 5 FROM c1; SELECT 2").statements;
    expect(state.resultText(execute)).toBe("PREPARE p AS SELECT reverse(password_hash) FROM accounts");
    expect(state.resultText(fetch)).toBe("DECLARE c1 CURSOR FOR SELECT upper(password_hash) FROM accounts");
    expect(state.resultText(other)).toBe("SELECT 2");
    expect(columnSourcesOfSelect(state.resultText(fetch)!)?.map((c) => c.sources)).toEqual([["accounts.password_hash"]]);
    // a cursor never declared through the gateway (opened in a function): not knowable
    expect(state.resultText(state.classify("FETCH 5 FROM from_a_function").statements[0])).toBeNull();
  });
});

describe("functions that change an index or statistics from a SELECT", () => {
  it.each([
    "SELECT brin_summarize_new_values('i')",
    "SELECT brin_summarize_range('i', 0)",
    "SELECT brin_desummarize_range('i', 0)",
    "SELECT gin_clean_pending_list('i')",
    "SELECT pg_catalog.pg_restore_relation_stats('relation', 't')",
    "SELECT pg_clear_attribute_stats('public', 't', 'c', false)",
    "SELECT pg_truncate_visibility_map('t')",
    "SELECT heap_force_kill('t', ARRAY[]::tid[])",
    "SELECT pg_stat_statements_reset()",
  ])("%s is admin", (sql) => {
    expect(classifySql(sql).kind).toBe("admin");
  });
});
