import { asArray, baseFunctionName, str, stringValue, unwrap } from "./ast";

/**
 * Which functions pass on only what their arguments carry. For masking, `upper(email)` derives
 * from `email` and nothing else; a function not on this list (a user-defined `get_ssn(id)`,
 * `query_to_xml('select ssn ...')`, `current_setting`) may return data from anywhere, so its
 * column also gets the "unknown" source and masking falls back to value detectors.
 *
 * Only built-ins, called unqualified or as pg_catalog.x: a `public.upper` is someone's code.
 */
const PASS_THROUGH = new Set(
  [
    // text
    "upper lower initcap encode decode replace reverse substr substring left right concat concat_ws",
    "trim btrim ltrim rtrim lpad rpad repeat translate overlay position strpos split_part starts_with",
    "regexp_replace regexp_substr regexp_match regexp_matches regexp_split_to_array regexp_split_to_table",
    "regexp_count regexp_instr regexp_like format quote_ident quote_literal quote_nullable textcat",
    "md5 sha224 sha256 sha384 sha512 to_hex ascii chr length char_length character_length octet_length",
    "bit_length convert convert_to convert_from normalize casefold to_ascii unistr string_to_array",
    "string_to_table array_to_string text varchar bpchar",
    // json / arrays / rows
    "to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array",
    "jsonb_build_array json_object jsonb_object jsonb_pretty json_strip_nulls jsonb_strip_nulls jsonb_set",
    "jsonb_set_lax jsonb_insert json_extract_path json_extract_path_text jsonb_extract_path",
    "jsonb_extract_path_text json_array_elements jsonb_array_elements json_array_elements_text",
    "jsonb_array_elements_text json_each jsonb_each json_each_text jsonb_each_text jsonb_path_query",
    "jsonb_path_query_first jsonb_path_query_array array_append array_prepend array_cat array_remove",
    "array_replace array_position array_positions array_length cardinality unnest array_dims",
    // aggregates and window functions
    "count min max sum avg string_agg array_agg json_agg jsonb_agg json_object_agg jsonb_object_agg",
    "bool_and bool_or every bit_and bit_or bit_xor xmlagg mode percentile_cont percentile_disc",
    "stddev stddev_pop stddev_samp variance var_pop var_samp any_value",
    "row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value",
    // numbers and time
    "abs round trunc floor ceil ceiling mod power sqrt sign div exp ln log to_char to_number to_date",
    "to_timestamp date_trunc date_part extract age now clock_timestamp statement_timestamp",
    "transaction_timestamp make_date make_timestamp justify_days justify_hours",
    // generators and constants (no data at all)
    "generate_series random gen_random_uuid num_nulls num_nonnulls pg_typeof coalesce nullif greatest least",
  ]
    .join(" ")
    .split(/\s+/),
);

/** True when the call passes on only its arguments' data. */
export function isPassThrough(funcname: unknown): boolean {
  const parts = asArray(funcname);
  if (parts.length > 2) return false;
  if (parts.length === 2 && stringValue(parts[0]) !== "pg_catalog") return false;
  const name = baseFunctionName(funcname);
  return name !== null && PASS_THROUGH.has(name);
}

/** The output column name PostgreSQL would report (FigureColname), best effort. */
export function figureColname(node: unknown): string {
  const u = unwrap(node);
  if (!u) return "?column?";
  const [type, n] = u;
  switch (type) {
    case "ColumnRef": {
      const fields = asArray(n.fields);
      return stringValue(fields[fields.length - 1]) ?? "?column?";
    }
    case "FuncCall":
      return baseFunctionName(n.funcname) ?? "?column?";
    case "TypeCast": {
      const inner = figureColname(n.arg);
      if (inner !== "?column?") return inner;
      const names = asArray((n.typeName as { names?: unknown } | undefined)?.names);
      return stringValue(names[names.length - 1]) ?? "?column?";
    }
    case "A_Indirection": {
      const ind = asArray(n.indirection);
      return stringValue(ind[ind.length - 1]) ?? figureColname(n.arg);
    }
    case "CaseExpr":
      return "case";
    case "CoalesceExpr":
      return "coalesce";
    case "MinMaxExpr":
      return n.op === "IS_LEAST" ? "least" : "greatest";
    case "A_ArrayExpr":
      return "array";
    case "RowExpr":
      return "row";
    case "SubLink":
      if (n.subLinkType === "EXISTS_SUBLINK") return "exists";
      if (n.subLinkType === "ARRAY_SUBLINK") return "array";
      if (n.subLinkType === "EXPR_SUBLINK") {
        const sel = unwrap(n.subselect);
        const first = sel ? unwrap(asArray(sel[1].targetList)[0]) : null;
        if (first) return str(first[1].name) ?? figureColname(first[1].val);
      }
      return "?column?";
    default:
      return "?column?";
  }
}
