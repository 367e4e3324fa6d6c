import type { RequestKind } from "@/lib/gateway/core/types";

/**
 * Functions that make an innocent-looking SELECT do something else. A statement that calls
 * one is classified at least as the rule's kind, wherever the call sits (select list, WHERE,
 * a CTE, a subquery, a DEFAULT, EXECUTE parameters).
 *
 * Matching is on the function's own name, lower-cased, ignoring the schema: `pg_catalog.set_config`,
 * `set_config` and `"SET_CONFIG"` all match. That over-matches a user function that merely
 * shares a name, which is the safe direction. A trailing `*` matches a prefix.
 *
 * What no list can cover: user-defined functions, views, triggers, rules and operators run
 * arbitrary code without naming it in the statement. `functions` in the classification lists
 * every call so policies can narrow further.
 */
export interface FunctionRule {
  /** lower-case function name; `prefix*` matches a prefix */
  name: string;
  kind: RequestKind;
  why: string;
  /**
   * What it returns comes from SQL or data the statement's text does not name (SQL text run
   * inside, a table's raw pages, the change stream): masking cannot follow it, so under masking a
   * statement calling it is refused (user-code.ts userCodeRefusal).
   */
  unmaskable?: true;
}

const admin = (why: string, names: string[]): FunctionRule[] => names.map((name) => ({ name, kind: "admin", why }));
const unmaskable = (rules: FunctionRule[]): FunctionRule[] => rules.map((r) => ({ ...r, unmaskable: true }));
const write = (why: string, names: string[]): FunctionRule[] => names.map((name) => ({ name, kind: "write", why }));
const read = (why: string, names: string[]): FunctionRule[] => names.map((name) => ({ name, kind: "read", why }));

export const DEFAULT_FUNCTION_RULES: readonly FunctionRule[] = [
  ...unmaskable(admin("connects to another database and runs SQL there", ["dblink*"])),
  ...unmaskable(admin("runs the SQL text it is given (or reads a whole table by name), which the gateway never sees parsed", [
    "query_to_xml*",
    "table_to_xml*",
    "cursor_to_xml*",
    "schema_to_xml*",
    "database_to_xml*",
    "ts_stat",
    "ts_rewrite",
    "crosstab*",
    "connectby*", // its C functions are connectby_text, connectby_text_serial: a renamed one is found by them
    "pg_background_*",
    "xpath_table", // xml2: builds SELECT <key>, <document> FROM <relname> WHERE <criteria> from its arguments
  ])),
  ...unmaskable(admin("reads a relation's raw pages by name (pageinspect), around masking and privileges", ["get_raw_page*", "bt_page_items*"])), // C: get_raw_page_1_9, bt_page_items_1_9
  // The views over them (pg_stat_activity, pg_stat_statements) withhold the text instead (source-plans.ts copiesValues).
  ...unmaskable(read("returns other sessions' SQL text, with the values in its literals", ["pg_stat_get_activity", "pg_stat_get_backend_activity", "pg_stat_statements*"])), // C: pg_stat_statements_1_10
  ...admin("schedules SQL to run later as a background job (pg_cron)", ["schedule", "schedule_in_database", "unschedule", "alter_job"]),
  // A server file may hold a table's rows in clear: its relation file (pg_relation_filepath), WAL,
  // the server log, an export. What these return has no lineage masking can follow.
  ...unmaskable(admin("reads server files (a table's own data files among them), around masking", [
    "pg_read_file*", // pg_read_file_old too
    "pg_read_binary_file",
    "lo_import",
  ])),
  ...admin("reads or writes server files", [
    "pg_stat_file",
    "pg_ls_*",
    "pg_file_*",
    "pg_logdir_ls",
    "lo_export",
  ]),
  ...admin("changes session settings (role, search_path, ...)", ["set_config"]),
  ...admin("signals or controls other backends or the server", [
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile*",
    "pg_log_backend_memory_contexts",
    "pg_promote",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_wal_replay_*",
    "pg_stat_reset*",
    "pg_import_system_collations",
  ]),
  ...admin("takes session-level advisory locks that outlive the statement", ["pg_advisory_*", "pg_try_advisory_*"]),
  // What VACUUM, ANALYZE and REINDEX (admin) do, one index or table at a time, from a SELECT.
  ...admin("maintains indexes, visibility maps or planner statistics (what VACUUM/ANALYZE do)", [
    "brin_summarize_new_values",
    "brin_summarize_range",
    "brin_desummarize_range",
    "gin_clean_pending_list",
    "pg_restore_relation_stats",
    "pg_restore_attribute_stats",
    "pg_clear_relation_stats",
    "pg_clear_attribute_stats",
    "pg_truncate_visibility_map",
    "heap_force_kill",
    "heap_force_freeze",
    "pg_stat_statements_reset",
  ]),
  ...unmaskable(admin("reads the change stream (every changed row, in clear)", ["pg_logical_slot_*"])),
  // pg_walinspect: WAL records of every database, a logical message's payload in hex (an outbox's
  // rows), and from PostgreSQL 16 full-page images; pg_get_wal_stats counts records only.
  ...unmaskable(admin("reads WAL records (logical message payloads, page images) of every database", ["pg_get_wal_record*", "pg_get_wal_block_info", "pg_get_wal_fpi_info"])),
  ...admin("starts a background worker or writes a file in the data directory (pg_prewarm)", ["autoprewarm_*"]),
  ...admin("manages replication", [
    "pg_create_*_replication_slot",
    "pg_copy_*_replication_slot",
    "pg_drop_replication_slot",
    "pg_replication_slot_advance",
    "pg_replication_origin_*",
    "pg_sync_replication_slots",
  ]),
  ...write("advances or sets a sequence", ["nextval", "setval"]),
  ...write("sends a notification other sessions receive", ["pg_notify"]),
  ...write("writes WAL messages", ["pg_logical_emit_message"]),
  ...write("creates, changes or deletes large objects", [
    "lo_create",
    "lo_creat",
    "lo_unlink",
    "lo_put",
    "lo_from_bytea",
    "lowrite",
    "lo_truncate",
    "lo_truncate64",
  ]),
];

export interface FunctionMatcher {
  match(baseName: string): FunctionRule | null;
}

const compiled = new WeakMap<readonly FunctionRule[], FunctionMatcher>();

/** Compiled once per rules array (by identity), so passing the same array costs nothing. */
export function functionMatcher(rules: readonly FunctionRule[]): FunctionMatcher {
  let m = compiled.get(rules);
  if (m) return m;
  const exact = new Map<string, FunctionRule>();
  const prefixes: [string, FunctionRule][] = [];
  const globs: [RegExp, FunctionRule][] = [];
  for (const rule of rules) {
    const name = rule.name.toLowerCase();
    const star = name.indexOf("*");
    if (star < 0) exact.set(name, rule);
    else if (star === name.length - 1) prefixes.push([name.slice(0, -1), rule]);
    else globs.push([new RegExp(`^${name.split("*").map(escapeRe).join(".*")}$`), rule]);
  }
  m = {
    match(baseName) {
      const hit = exact.get(baseName);
      if (hit) return hit;
      for (const [p, rule] of prefixes) if (baseName.startsWith(p)) return rule;
      for (const [re, rule] of globs) if (re.test(baseName)) return rule;
      return null;
    },
  };
  compiled.set(rules, m);
  return m;
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}
