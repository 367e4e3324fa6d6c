/**
 * The C functions (pg_proc.prosrc of `LANGUAGE internal`) behind the built-ins the function rules
 * (classify/functions.ts) classify, with the name each has in PostgreSQL 15 and 18 (the embedded
 * PGlite): `nextval` runs `nextval_oid`, `pg_read_file` four of them (a symbol alone: the name is
 * the same). A function running one of these under another name was renamed (`ALTER FUNCTION
 * nextval RENAME TO pg_stat_get_activity`, a name whose rule only reads) or replaced (`CREATE OR
 * REPLACE FUNCTION initcap(text) ... LANGUAGE internal AS 'nextval_oid'`): user-code-queries.ts
 * ALTERED_BUILTINS. A list, not a lookup by name, because the names are what such a change moves.
 * tests/integration/postgres-altered-builtins.test.ts checks it against PostgreSQL 15 and PGlite:
 * each built-in a rule names is here with its name, and no other built-in runs one of these.
 */
const PAIRS: readonly (readonly [symbol: string, name?: string])[] = [
  ["be_lo_creat", "lo_creat"], ["be_lo_create", "lo_create"], ["be_lo_export", "lo_export"],
  ["be_lo_from_bytea", "lo_from_bytea"], ["be_lo_import", "lo_import"],
  ["be_lo_import_with_oid", "lo_import"], ["be_lo_put", "lo_put"], ["be_lo_truncate", "lo_truncate"],
  ["be_lo_truncate64", "lo_truncate64"], ["be_lo_unlink", "lo_unlink"], ["be_lowrite", "lowrite"],
  ["brin_desummarize_range"], ["brin_summarize_new_values"], ["brin_summarize_range"],
  ["cursor_to_xml"], ["cursor_to_xmlschema"], ["database_to_xml"], ["database_to_xml_and_xmlschema"],
  ["database_to_xmlschema"], ["gin_clean_pending_list"], ["nextval_oid", "nextval"],
  ["pg_advisory_lock_int4", "pg_advisory_lock"], ["pg_advisory_lock_int8", "pg_advisory_lock"],
  ["pg_advisory_lock_shared_int4", "pg_advisory_lock_shared"],
  ["pg_advisory_lock_shared_int8", "pg_advisory_lock_shared"], ["pg_advisory_unlock_all"],
  ["pg_advisory_unlock_int4", "pg_advisory_unlock"],
  ["pg_advisory_unlock_int8", "pg_advisory_unlock"],
  ["pg_advisory_unlock_shared_int4", "pg_advisory_unlock_shared"],
  ["pg_advisory_unlock_shared_int8", "pg_advisory_unlock_shared"],
  ["pg_advisory_xact_lock_int4", "pg_advisory_xact_lock"],
  ["pg_advisory_xact_lock_int8", "pg_advisory_xact_lock"],
  ["pg_advisory_xact_lock_shared_int4", "pg_advisory_xact_lock_shared"],
  ["pg_advisory_xact_lock_shared_int8", "pg_advisory_xact_lock_shared"], ["pg_backup_start"],
  ["pg_backup_stop"], ["pg_cancel_backend"], ["pg_clear_attribute_stats"],
  ["pg_clear_relation_stats"],
  ["pg_copy_logical_replication_slot_a", "pg_copy_logical_replication_slot"],
  ["pg_copy_logical_replication_slot_b", "pg_copy_logical_replication_slot"],
  ["pg_copy_logical_replication_slot_c", "pg_copy_logical_replication_slot"],
  ["pg_copy_physical_replication_slot_a", "pg_copy_physical_replication_slot"],
  ["pg_copy_physical_replication_slot_b", "pg_copy_physical_replication_slot"],
  ["pg_create_logical_replication_slot"], ["pg_create_physical_replication_slot"],
  ["pg_create_restore_point"], ["pg_drop_replication_slot"], ["pg_import_system_collations"],
  ["pg_log_backend_memory_contexts"], ["pg_logical_emit_message_bytea", "pg_logical_emit_message"],
  ["pg_logical_emit_message_text", "pg_logical_emit_message"],
  ["pg_logical_slot_get_binary_changes"], ["pg_logical_slot_get_changes"],
  ["pg_logical_slot_peek_binary_changes"], ["pg_logical_slot_peek_changes"],
  ["pg_ls_archive_statusdir"], ["pg_ls_dir"], ["pg_ls_dir_1arg", "pg_ls_dir"], ["pg_ls_logdir"],
  ["pg_ls_logicalmapdir"], ["pg_ls_logicalsnapdir"], ["pg_ls_replslotdir"], ["pg_ls_summariesdir"],
  ["pg_ls_tmpdir_1arg", "pg_ls_tmpdir"], ["pg_ls_tmpdir_noargs", "pg_ls_tmpdir"], ["pg_ls_waldir"],
  ["pg_notify"], ["pg_promote"], ["pg_read_binary_file"],
  ["pg_read_binary_file_all", "pg_read_binary_file"],
  ["pg_read_binary_file_all_missing", "pg_read_binary_file"],
  ["pg_read_binary_file_off_len", "pg_read_binary_file"],
  ["pg_read_binary_file_off_len_missing", "pg_read_binary_file"],
  ["pg_read_file", "pg_read_file_old"], ["pg_read_file_all", "pg_read_file"],
  ["pg_read_file_all_missing", "pg_read_file"], ["pg_read_file_off_len", "pg_read_file"],
  ["pg_read_file_off_len_missing", "pg_read_file"], ["pg_read_file_v2", "pg_read_file"],
  ["pg_reload_conf"], ["pg_replication_origin_advance"], ["pg_replication_origin_create"],
  ["pg_replication_origin_drop"], ["pg_replication_origin_oid"], ["pg_replication_origin_progress"],
  ["pg_replication_origin_session_is_setup"], ["pg_replication_origin_session_progress"],
  ["pg_replication_origin_session_reset"], ["pg_replication_origin_session_setup"],
  ["pg_replication_origin_xact_reset"], ["pg_replication_origin_xact_setup"],
  ["pg_replication_slot_advance"], ["pg_restore_attribute_stats"], ["pg_restore_relation_stats"],
  ["pg_rotate_logfile"], ["pg_rotate_logfile", "pg_rotate_logfile_old"],
  ["pg_rotate_logfile_v2", "pg_rotate_logfile"], ["pg_stat_file"],
  ["pg_stat_file_1arg", "pg_stat_file"], ["pg_stat_get_activity"], ["pg_stat_get_backend_activity"],
  ["pg_stat_reset"], ["pg_stat_reset_backend_stats"], ["pg_stat_reset_replication_slot"],
  ["pg_stat_reset_shared"], ["pg_stat_reset_single_function_counters"],
  ["pg_stat_reset_single_table_counters"], ["pg_stat_reset_slru"],
  ["pg_stat_reset_subscription_stats"], ["pg_switch_wal"], ["pg_sync_replication_slots"],
  ["pg_terminate_backend"], ["pg_try_advisory_lock_int4", "pg_try_advisory_lock"],
  ["pg_try_advisory_lock_int8", "pg_try_advisory_lock"],
  ["pg_try_advisory_lock_shared_int4", "pg_try_advisory_lock_shared"],
  ["pg_try_advisory_lock_shared_int8", "pg_try_advisory_lock_shared"],
  ["pg_try_advisory_xact_lock_int4", "pg_try_advisory_xact_lock"],
  ["pg_try_advisory_xact_lock_int8", "pg_try_advisory_xact_lock"],
  ["pg_try_advisory_xact_lock_shared_int4", "pg_try_advisory_xact_lock_shared"],
  ["pg_try_advisory_xact_lock_shared_int8", "pg_try_advisory_xact_lock_shared"],
  ["pg_wal_replay_pause"], ["pg_wal_replay_resume"], ["query_to_xml"],
  ["query_to_xml_and_xmlschema"], ["query_to_xmlschema"], ["schema_to_xml"],
  ["schema_to_xml_and_xmlschema"], ["schema_to_xmlschema"], ["set_config_by_name", "set_config"],
  ["setval3_oid", "setval"], ["setval_oid", "setval"], ["table_to_xml"],
  ["table_to_xml_and_xmlschema"], ["table_to_xmlschema"], ["ts_stat1", "ts_stat"],
  ["ts_stat2", "ts_stat"], ["tsquery_rewrite", "ts_rewrite"],
  ["tsquery_rewrite_query", "ts_rewrite"]
];

/** "symbol name" for each ruled built-in. */
export const RULED_FUNCTIONS: readonly string[] = PAIRS.map(([symbol, name]) => `${symbol} ${name ?? symbol}`);
/** The C functions of the ruled built-ins. */
export const RULED_SYMBOLS: readonly string[] = [...new Set(PAIRS.map(([symbol]) => symbol))];
