import fc from "fast-check";

/**
 * The statement grammar of postgres-masking-property.test.ts: transformations of a masked column
 * (casts, string functions, aggregates, windows, set-returning functions, filters) over sources
 * that reach it (tables, views, derived tables, CTEs, joins, LATERAL, set operations), wrapped in
 * derived tables, whole rows, CTEs, COPY, cursors and PREPARE/EXECUTE. Each generated statement
 * says which output columns derive from the masked one.
 */

/** between the Queries of one simple-protocol exchange (an EXECUTE is resolved once its PREPARE ran) */
export const NEXT = "\n--next query\n";

export type Proto = "simple" | "extended" | "extended+param";

interface Src {
  with?: string;
  from: string;
  secret: string;
  plain: string;
  key: string;
  /** the FROM item itself reads a masked value (an SRF over it, LATERAL over it) */
  reads?: true;
}
export interface Domain {
  table: string;
  /** which columns of `table` are masked, in order (for `*` and `(k).*`) */
  row: boolean[];
  secret: string;
  plain: string;
  srcs: Src[];
}
export const PII: Domain = {
  table: "acct",
  row: [false, false, true, false],
  secret: "password_hash",
  plain: "login",
  srcs: [
    { from: "acct a", secret: "a.password_hash", plain: "a.login", key: "a.id" },
    { from: "acct_v a", secret: "a.secret_col", plain: "a.login", key: "a.id" },
    { from: "acct_up a", secret: "a.shout", plain: "a.id::text", key: "a.id" },
    { from: "vault a", secret: "a.password_hint", plain: "a.label", key: "a.id" },
    { from: "(select id, login, password_hash as p from acct) a", secret: "a.p", plain: "a.login", key: "a.id" },
    { from: "acct a join vault w on w.acct_id = a.id", secret: "w.password_hint", plain: "w.label", key: "a.id" },
    { from: "acct a join vault w on w.acct_id = a.id", secret: "a.password_hash", plain: "a.login", key: "w.id" },
    { from: "acct a, lateral (select a.password_hash as p) l", secret: "l.p", plain: "a.login", key: "a.id", reads: true },
    { from: "acct a join (values (1, 'x'), (2, 'y'), (3, 'z')) vv(id, tag) on vv.id = a.id", secret: "a.password_hash", plain: "vv.tag", key: "a.id" },
    { from: "acct a, unnest(array[a.password_hash, a.note]) u(p)", secret: "u.p", plain: "a.login", key: "a.id", reads: true },
    { from: "acct a, regexp_split_to_table(a.password_hash, '-') r(p)", secret: "r.p", plain: "a.login", key: "a.id", reads: true },
    { from: "acct a, string_to_table(a.password_hash, 'pw') r(p)", secret: "r.p", plain: "a.login", key: "a.id", reads: true },
    { from: "acct a cross join lateral (values (a.password_hash, a.login)) lv(p, l)", secret: "lv.p", plain: "lv.l", key: "a.id", reads: true },
    { with: "c as (select id, login, password_hash as p from acct)", from: "c a", secret: "a.p", plain: "a.login", key: "a.id" },
    { with: "c as materialized (select id, login, upper(password_hash) || '' as p from acct)", from: "c a", secret: "a.p", plain: "a.login", key: "a.id" },
    { with: "c(i, l, p) as not materialized (select id, login, password_hash from acct)", from: "c a", secret: "a.p", plain: "a.l", key: "a.i" },
    { from: "(select id, login, password_hash as p from acct union all select id, label, password_hint from vault) a", secret: "a.p", plain: "a.login", key: "a.id" },
    { with: "recursive r(n, p) as (select 1, password_hash from acct where id = 1 union all select n + 1, p from r where n < 3)", from: "r a", secret: "a.p", plain: "a.n::text", key: "a.n" },
    { from: "json_populate_recordset(null::acct, (select json_agg(x) from acct x)) a", secret: "a.password_hash", plain: "a.login", key: "a.id", reads: true },
  ],
};
export const STRICT: Domain = {
  table: "citizens",
  row: [false, false, true],
  secret: "tax_id",
  plain: "city",
  srcs: [
    { from: "citizens a", secret: "a.tax_id", plain: "a.city", key: "a.id" },
    { from: "citizens_v a", secret: "a.tid", plain: "a.city", key: "a.id" },
    { from: "citizens_area a", secret: "a.area", plain: "a.id::text", key: "a.id" },
    { from: "(select id, city, tax_id as t from citizens) a", secret: "a.t", plain: "a.city", key: "a.id" },
    { with: "c as materialized (select id, city, tax_id as t from citizens)", from: "c a", secret: "a.t", plain: "a.city", key: "a.id" },
    { from: "citizens a, unnest(array[a.tax_id]) u(p)", secret: "u.p", plain: "a.city", key: "a.id", reads: true },
    { from: "citizens a join (values (1, 'x'), (2, 'y')) vv(id, tag) on vv.id = a.id", secret: "a.tax_id", plain: "vv.tag", key: "a.id" },
    { from: "citizens a, lateral (select a.tax_id as p) l", secret: "l.p", plain: "a.city", key: "a.id", reads: true },
  ],
};

/** text → text, `{}` the operand; `'lit'` is what the extended-with-parameter protocol binds */
const TEXT_T = [
  "{}::text", "{}::varchar(40)", "upper({})", "lower({})", "initcap({})", "reverse({})", "replace({}, 'pw-', '')",
  "translate({}, 'abcdef0123456789', 'ghijklmnopqrstuv')", "overlay({} placing 'ZZ' from 2 for 1)", "substr({}, 4)",
  "substr({}, 2, 10)", "left({}, 12)", "right({}, 10)", "concat({}, 'lit')", "{} || 'lit'", "'lit' || {}",
  "concat_ws('|', {}, 'lit')", "format('%s/%s', {}, 'lit')", "format('%I', {})", "quote_literal({})", "lpad({}, 30, '*')",
  "rpad({}, 30, '.')", "split_part({}, '-', 2)", "regexp_replace({}, '(.)', '\\1.', 'g')", "regexp_replace({}, '^pw-', '')",
  "encode(convert_to({}, 'UTF8'), 'hex')", "encode(convert_to({}, 'UTF8'), 'base64')", "encode(convert_to({}, 'UTF8'), 'escape')",
  "encode({}::bytea, 'base64')", "case when {} like 'pw-%' then {} else 'none' end", "coalesce({}, 'lit')", "nullif({}, 'lit')",
  "greatest({}, 'a')", "least({}, 'zzzz')", "(select {})", "array_to_string(array[{}, 'lit'], ',')", "(array[{}, 'x'])[1]",
  "array[{}]::text", "to_json({})::text", "json_build_object('k', {})::text", "to_jsonb({}) #>> '{ }'", "row({}, 1)::text",
  "{} collate \"C\"", "btrim({}, 'p')", "(regexp_match({}, '-(.*)'))[1]", "convert_from(convert_to({}, 'UTF8'), 'UTF8')",
  "to_hex(ascii({}))", "chr(ascii({}))", "md5({})", "repeat({}, 2)", "quote_ident({})", "ltrim({}, 'pw-')",
  "substring({} from 4)", "substring({} from '-(.*)')", "jsonb_build_array({}) ->> 0", "xmlelement(name x, {})::text",
  "(jsonb_path_query_first(jsonb_build_object('s', {}), '$.s') #>> '{ }')", "string_agg({}, '') over ()", "to_char(length({}), '99')",
];
/** text → something else, last in a chain */
const FINAL_T = [
  "{}::bytea", "convert_to({}, 'UTF8')", "to_json({})", "to_jsonb({})", "array[{}, 'lit']", "length({})", "ascii({})",
  "{} like 'pw-a%'", "starts_with({}, 'pw-')", "row({})", "string_to_array({}, '-')", "regexp_split_to_array({}, '')",
  "json_build_object('k', {})", "{} is null", "{}::int", "{}::json", "{}::name", "{}::char(5)", "hashtext({})",
];
const AGG = [
  "string_agg({}, ',' order by {k})", "array_agg({} order by {k})", "json_agg({})", "jsonb_agg({})", "min({})", "max({})",
  "count(distinct {})", "json_object_agg({k}, {})", "jsonb_object_agg(coalesce({}, 'n'), {k})", "bool_or({} like 'pw-a%')",
  "string_agg(distinct {}, '')", "array_agg({})::text", "xmlagg(xmlelement(name e, {}))", "mode() within group (order by {})",
];
const WINDOW = [
  "first_value({}) over (order by {k})", "lag({}) over (order by {k})", "lead({}, 1, 'lit') over (order by {k})",
  "last_value({}) over (order by {k} rows between unbounded preceding and unbounded following)",
  "nth_value({}, 2) over (order by {k} rows between unbounded preceding and unbounded following)",
  "row_number() over (order by {})", "max({}) over ()", "string_agg({}, ',') over (order by {k})", "count({}) over (partition by {})",
];
const SRF = [
  "unnest(array[{}, 'lit'])", "regexp_split_to_table({}, '')", "string_to_table({}, '-')", "jsonb_array_elements_text(jsonb_build_array({}))",
  "unnest(string_to_array({}, null))", "regexp_matches({}, '(..)(..)', 'g')", "generate_series(1, 2)::text || {}",
];
const FILTER = ["{} like 'pw-%'", "{} is not null", "{} > 'pw-8'", "length({}) > 2", "{} ~ '^pw-[0-7]'", "{} in ('a', 'lit')", "{} like '1%'"];

const fill = (t: string, operand: string, key = "") => t.split("{}").join(operand).split("{k}").join(key);

interface Expr {
  sql: string;
  touched: boolean;
}
/** A chain of transformations over the masked column (touched) or over an unmasked text column. */
const exprOf = (src: Src, secret: boolean, chain: string[], final: string | null): Expr => ({
  sql: [...chain, ...(final ? [final] : [])].reduce((e, t) => fill(t, e), secret ? src.secret : src.plain),
  touched: secret,
});
const arbExpr = (src: Src, textOnly = false) =>
  fc
    .tuple(fc.boolean(), fc.array(fc.constantFrom(...TEXT_T), { maxLength: 3 }), textOnly ? fc.constant(null) : fc.option(fc.constantFrom(...FINAL_T), { freq: 4 }))
    .map(([secret, chain, final]) => exprOf(src, secret, chain, final));

/** A generated statement: its text, which output columns derive from a masked one (null: unknown), whether it reads one anywhere. */
export interface Q {
  sql: string;
  cols: boolean[] | null;
  reads: boolean;
  simpleOnly?: boolean;
}
const withOf = (src: Src) => (src.with ? `with ${src.with} ` : "");
/** the FROM item names a masked column itself (its columns may then be masked as a superset: scope.ts) */
const srcReads = (src: Src) => !!src.reads || /password_hash|password_hint|tax_id/.test(`${src.with ?? ""} ${src.from}`);
/** `select <items> from <src> [where] [order by] [limit]` */
const arbPlain = (d: Domain, src: Src) =>
  fc
    .tuple(
      fc.array(fc.oneof(arbExpr(src), fc.constant({ sql: src.key, touched: false }), fc.constant({ sql: src.plain, touched: false })), { minLength: 1, maxLength: 3 }),
      fc.option(fc.oneof(fc.tuple(fc.constantFrom(...FILTER), arbExpr(src, true)).map(([f, e]) => ({ sql: fill(f, e.sql), touched: e.touched })), fc.constant({ sql: `${src.key} > 1`, touched: false }), fc.constant({ sql: `${src.key} in (select b.id from ${d.table} b where b.${d.secret} like '%1%')`, touched: true }))),
      fc.option(fc.oneof(fc.constant({ sql: "1", touched: false }), fc.constant({ sql: src.key, touched: false }), arbExpr(src, true).map((e) => ({ sql: `${e.sql} desc`, touched: e.touched })))),
      fc.boolean(),
    )
    .map(([items, where, order, limit]): Q => ({
      sql: `${withOf(src)}select ${items.map((e, i) => `${e.sql} as c${i}`).join(", ")} from ${src.from}${where ? ` where ${where.sql}` : ""}${order ? ` order by ${order.sql}` : ""}${limit ? " limit 2" : ""}`,
      cols: items.map((e) => e.touched),
      reads: srcReads(src) || items.some((e) => e.touched) || !!where?.touched || !!order?.touched,
    }));
const arbAgg = (src: Src) =>
  fc.tuple(fc.constantFrom(...AGG), arbExpr(src, true), fc.boolean()).map(([agg, e, grouped]): Q => ({
    sql: `${withOf(src)}select ${grouped ? `${src.key} as c0, ` : ""}${fill(agg, e.sql, src.key)} as c${grouped ? 1 : 0} from ${src.from}${grouped ? ` group by ${src.key}` : ""}`,
    cols: [...(grouped ? [false] : []), e.touched],
    reads: srcReads(src) || e.touched,
  }));
const arbWindow = (src: Src) =>
  fc.tuple(fc.constantFrom(...WINDOW), arbExpr(src, true)).map(([w, e]): Q => ({
    sql: `${withOf(src)}select ${src.key} as c0, ${fill(w, e.sql, src.key)} as c1 from ${src.from}`,
    cols: [false, e.touched],
    reads: srcReads(src) || e.touched,
  }));
const arbSrf = (src: Src) =>
  fc.tuple(fc.constantFrom(...SRF), arbExpr(src, true)).map(([f, e]): Q => ({
    sql: `${withOf(src)}select ${src.key} as c0, ${fill(f, e.sql)} as c1 from ${src.from}`,
    cols: [false, e.touched],
    reads: srcReads(src) || e.touched,
  }));
const arbDistinct = (src: Src) =>
  fc.tuple(arbExpr(src, true), fc.boolean()).map(([e, grouped]): Q => ({
    sql: grouped ? `${withOf(src)}select ${e.sql} as c0, count(*) as c1 from ${src.from} group by 1` : `${withOf(src)}select distinct ${e.sql} as c0 from ${src.from}`,
    cols: grouped ? [e.touched, false] : [e.touched],
    reads: srcReads(src) || e.touched,
  }));
/** subqueries around the source, under an outer row of the domain's table `k` */
const arbSub = (d: Domain, src: Src) =>
  fc.tuple(fc.integer({ min: 0, max: 6 }), arbExpr(src, true)).map(([n, e]): Q => {
    const reads = srcReads(src) || e.touched;
    const inner = `${withOf(src)}select ${e.sql} from ${src.from}`;
    switch (n) {
      case 0:
        return { sql: `select k.id as c0, (${inner} where ${src.key} = k.id limit 1) as c1 from ${d.table} k`, cols: [false, e.touched], reads };
      case 1:
        return { sql: `select k.id as c0, k.${d.plain} in (${inner}) as c1 from ${d.table} k`, cols: [false, e.touched], reads };
      case 2:
        return { sql: `select k.id as c0 from ${d.table} k where exists (${inner} where ${src.key} = k.id and ${e.sql} like '%')`, cols: [false], reads };
      case 3:
        return { sql: `select k.id as c0 from ${d.table} k where k.${d.secret} in (${inner})`, cols: [false], reads: true };
      case 4:
        return { sql: `select array(${inner} order by 1) as c0`, cols: [e.touched], reads };
      case 5:
        return { sql: `select k.id as c0, l.v as c1 from ${d.table} k, lateral (${withOf(src)}select ${e.sql} as v from ${src.from} where ${src.key} = k.id) l`, cols: [false, e.touched], reads };
      default:
        return { sql: `select * from (values ((${inner} order by 1 limit 1), 1)) v(x, y)`, cols: [e.touched, false], reads };
    }
  });
const arbSetOp = (d: Domain, src: Src) =>
  fc.tuple(arbExpr(src, true), fc.constantFrom("union", "union all", "intersect", "except", "except all"), fc.boolean()).map(([e, op, left]): Q => {
    const mine = `(${withOf(src)}select ${e.sql} from ${src.from})`;
    const other = `(select ${d.plain} from ${d.table})`;
    return { sql: `${left ? mine : other} ${op} ${left ? other : mine}`, cols: [e.touched], reads: srcReads(src) || e.touched };
  });
/** the table joined USING / NATURAL to a derived table: PostgreSQL's `*` puts the merged column first */
const arbUsing = (d: Domain, src: Src) =>
  fc.tuple(arbExpr(src), fc.constantFrom("join", "left join", "full join", "natural join", "natural full join"), fc.boolean()).map(([e, j, tableFirst]): Q => {
    const x = `(${withOf(src)}select ${src.key} as id, ${e.sql} as c1 from ${src.from}) x`;
    const [l, r] = tableFirst ? [`${d.table} k`, x] : [x, `${d.table} k`];
    return {
      sql: `select * from ${l} ${j} ${r}${j.startsWith("natural") ? "" : " using (id)"}`,
      cols: tableFirst ? [false, ...d.row.slice(1), e.touched] : [false, e.touched, ...d.row.slice(1)],
      reads: true,
    };
  });
/** a plain `select` of the masked column beside the others, as a client would write it */
const arbBare = (src: Src) =>
  fc.boolean().map((filtered): Q => ({
    sql: `${withOf(src)}select ${src.key} as c0, ${src.secret} as c1, ${src.plain} as c2 from ${src.from}${filtered ? ` where ${src.key} > 1` : ""}`,
    cols: [false, true, false],
    reads: true,
  }));
const arbBase = (d: Domain): fc.Arbitrary<Q> =>
  fc.constantFrom(...d.srcs).chain((src) =>
    fc.oneof({ arbitrary: arbPlain(d, src), weight: 4 }, arbAgg(src), arbWindow(src), arbSrf(src), arbDistinct(src), arbSub(d, src), arbSetOp(d, src), arbUsing(d, src), arbBare(src)),
  );
/** wrappers: derived tables, whole rows, CTEs; and (simple Query only) COPY, a cursor, PREPARE/EXECUTE */
const WRAP: ((q: Q, d: Domain) => Q)[] = [
  (q) => q,
  (q) => ({ ...q, sql: `select * from (${q.sql}) x` }),
  (q) => ({ ...q, sql: `select x.* from (${q.sql}) x order by 1` }),
  (q) => ({ ...q, sql: `select row_to_json(x) from (${q.sql}) x`, cols: q.cols && [q.cols.some(Boolean)] }),
  (q) => ({ ...q, sql: `select x::text from (${q.sql}) x`, cols: q.cols && [q.cols.some(Boolean)] }),
  (q) => ({ ...q, sql: `select json_agg(x) from (${q.sql}) x`, cols: q.cols && [q.cols.some(Boolean)] }),
  (q) => ({ ...q, sql: `select to_jsonb(x) - 'c0' from (${q.sql}) x`, cols: q.cols && [q.cols.some(Boolean)] }),
  (q) => ({ ...q, sql: `with w as materialized (${q.sql}) select * from w` }),
  (q) => ({ ...q, sql: `select n, w.* from (values (1)) v(n), lateral (${q.sql}) w`, cols: q.cols && [false, ...q.cols] }),
  (q) => ({ ...q, sql: `select * from (${q.sql}) x natural join (select 1 as zz) y`, cols: q.cols && [...q.cols, false] }),
  (q, d) => ({ ...q, sql: `select * from ${d.table} k join (${q.sql}) x on true`, cols: q.cols && [...d.row, ...q.cols], reads: true }),
  (q, d) => ({ ...q, sql: `select * from (${d.table} k cross join (${q.sql}) x) j`, cols: q.cols && [...d.row, ...q.cols], reads: true }),
  (q, d) => ({ ...q, sql: `select (null::${d.table}).*, x.* from (${q.sql}) x`, cols: q.cols && [...d.row.map(() => false), ...q.cols] }),
  (q, d) => ({ ...q, sql: `select x.*, (k).* from (${q.sql}) x, ${d.table} k`, cols: q.cols && [...q.cols, ...d.row], reads: true }),
  (q) => ({ ...q, sql: `copy (${q.sql}) to stdout`, simpleOnly: true }),
  (q) => ({ ...q, sql: `copy (${q.sql}) to stdout with (format csv, header)`, cols: null, simpleOnly: true }),
  (q) => ({ ...q, sql: `begin; declare pc cursor for ${q.sql}; fetch all from pc; commit`, simpleOnly: true }),
  (q) => ({ ...q, sql: `prepare pq as ${q.sql}${NEXT}execute pq`, simpleOnly: true }),
];
export const arbStatement = (d: Domain) =>
  fc.tuple(arbBase(d), fc.nat(WRAP.length * 3 - 1), fc.constantFrom("simple", "extended", "extended+param") as fc.Arbitrary<Proto>).map(([q, w, proto]) => {
    const wrapped = w < WRAP.length ? WRAP[w](q, d) : q;
    return { q: wrapped, proto: wrapped.simpleOnly ? ("simple" as const) : proto };
  });
