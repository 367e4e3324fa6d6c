import { beforeAll, describe, expect, it } from "vitest";
import { classifySql, initClassifier } from "../classify";
import { DEFAULT_FUNCTION_RULES, functionMatcher } from "./functions";

describe("function rules: what reads around masking or runs SQL later", () => {
  beforeAll(() => initClassifier());

  it.each([
    ["select * from xpath_table('id', 'doc', 'vault', '/a', 'true') as t(id int, v text)", "admin"],
    ["select get_raw_page('vault', 0)", "admin"],
    ["select * from public.bt_page_items('vault_pkey', 1)", "admin"],
    ["select pg_read_file_old('/etc/passwd', 0, 10)", "admin"],
    ["select pg_rotate_logfile_old()", "admin"],
    ["select cron.schedule('* * * * *', 'drop table t')", "admin"],
    ["select cron.unschedule(1)", "admin"],
    ["select data from pg_logical_slot_peek_changes('s', null, null)", "admin"],
  ])("%s is %s", (sql, kind) => {
    expect(classifySql(sql).kind).toBe(kind);
  });

  it("marks as unmaskable what returns data masking cannot follow, and only that", () => {
    const m = functionMatcher(DEFAULT_FUNCTION_RULES);
    for (const name of ["xpath_table", "get_raw_page", "bt_page_items", "query_to_xml", "dblink", "pg_logical_slot_get_changes"]) expect(m.match(name)?.unmaskable, name).toBe(true);
    for (const name of ["set_config", "nextval", "pg_terminate_backend", "schedule"]) expect(m.match(name)?.unmaskable, name).toBeUndefined();
  });
});
