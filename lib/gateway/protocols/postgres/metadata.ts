import postgres from "postgres";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import { withDeadline } from "@/lib/util/deadline";
import { changedSince, noteUsed, StampChecks, stampOf, usedBy, type Basis } from "./catalog-stamps";
import { columnSourcesOfSelect } from "./column-sources";

/**
 * Catalog lookups masking needs: RowDescription names a column only by (table OID, attnum),
 * `row_to_json(c)` names only a table, and a view's column is masked as the columns it is made
 * of. We ask the upstream's catalog on a SEPARATE connection (postgres-js, same stored
 * credentials), never on the client's session: a lookup there would interleave with the
 * client's protocol stream and could run inside its aborted transaction. One small pool per
 * connection, shared by its sessions; answers are kept for CACHE_TTL_MS (`Kept`), forgotten at once
 * when DDL ran through a Gatehouse (catalog-changes.ts: every pool on that database, in every
 * process, forgets), and those masking uses are checked against the catalog after each result
 * (`checked`, catalog-stamps.ts): a column renamed or a view replaced elsewhere is seen at once.
 */

export interface ColumnName {
  schema: string;
  table: string;
  column: string;
  /** a view or materialized view: its columns are masked as what they are made of (RelationInfo.lineage) */
  view?: boolean;
}

/**
 * For each column of a view, the columns it is computed from ("table.column", "table.*",
 * UNKNOWN_SOURCE), as columnSourcesOfSelect finds them in the view's definition. "opaque": the
 * definition could not be followed (its columns may be anything).
 */
export type ViewLineage = Map<string, string[]> | "opaque";

/** A name a statement's text uses; for a cast whose operand's type the text gives, that type (`from`). */
export interface CodeRef {
  schema?: string;
  name: string;
  from?: { schema?: string; name: string };
}

/** A relation a statement's text names, as the catalog has it. */
export interface RelationInfo {
  schema: string;
  name: string;
  /** its OID (for its inheritance relatives) */
  oid?: number;
  columns: string[];
  /** views and materialized views only */
  lineage?: ViewLineage;
}

const CACHE_LIMIT = 20_000;
const CACHE_TTL_MS = 30_000;
/**
 * How long a statement waits for a catalog answer before it is decided without one (fail
 * closed: masking refuses, user code counts as called). An upstream that serves one transaction
 * at a time (the embedded demo's PGlite) answers the catalog connection only once the client's
 * own open transaction ends: without a deadline the statement would wait for ever.
 */
const CATALOG_TIMEOUT_MS = Number(process.env.GATEHOUSE_PG_CATALOG_TIMEOUT_MS) || 5_000;

const catalogRead = <T>(work: Promise<T>) => withDeadline(work, CATALOG_TIMEOUT_MS, () => new Error(`the upstream catalog did not answer within ${CATALOG_TIMEOUT_MS} ms`));

/** An answer, and what it was read from (catalog-stamps.ts) when `checked` must compare it. */
interface Read<V> {
  value: V;
  basis?: Basis;
}

/**
 * A cache whose entries are re-read after CACHE_TTL_MS; concurrent misses share one read, and
 * when a re-read fails the entry read last is used (an outage of the catalog connection must not
 * turn a warm gateway's masking off; a cold one fails: see buildFieldPlans; under `checked` the
 * check cannot be made either, and it fails). Every answer given notes its basis (noteUsed).
 */
class Kept<K, V> {
  private readonly entries = new Map<K, Read<V> & { at: number }>();
  private readonly reading = new Map<K, Promise<Read<V>>>();
  /** bumped by clear(): a read that started before it may have seen the catalog before the change */
  private generation = 0;

  async get(key: K, read: () => Promise<Read<V>>): Promise<V> {
    const kept = this.entries.get(key);
    if (kept && Date.now() - kept.at < CACHE_TTL_MS) return noted(kept);
    const generation = this.generation;
    let p = this.reading.get(key);
    if (!p) {
      const reading = catalogRead(read()).finally(() => this.reading.get(key) === reading && this.reading.delete(key));
      this.reading.set(key, (p = reading));
    }
    try {
      const answer = await p;
      if (this.entries.size > CACHE_LIMIT) this.entries.clear();
      if (generation === this.generation) this.entries.set(key, { ...answer, at: Date.now() });
      return noted(answer);
    } catch (err) {
      if (kept) return noted(kept);
      throw err;
    }
  }

  /** Forget every answer, and answers being read now: the catalog changed. */
  clear() {
    this.generation++;
    this.entries.clear();
    this.reading.clear();
  }
}

function noted<V>(answer: Read<V>): V {
  noteUsed(answer.basis);
  return answer.value;
}

/** The answer of a lookup whose rows carry their relation's `oid` and `stamp` (stampOf). */
function stamped<V>(value: V, rows: readonly { oid: string; stamp: string }[], name?: { schema?: string; name: string }): Read<V> {
  const stamps = rows.map((r): [number, string] => [Number(r.oid), r.stamp]);
  const oids = [...new Set(stamps.map(([oid]) => oid))].sort((a, b) => a - b);
  return { value, basis: { stamps, ...(name ? { name: { schema: name.schema ?? null, name: name.name, oids } } : {}) } };
}

const g = globalThis as { __gatehousePgMetadata?: Map<string, UpstreamMetadata>; __gatehouseSerialUpstreams?: Set<string> };
const serialUpstreams: Set<string> = (g.__gatehouseSerialUpstreams ??= new Set());

/**
 * Marks "host:port" as an upstream that serves one transaction at a time (the embedded demo's
 * PGlite behind pglite-socket): `checked` does not ask it after a result, since the client's own
 * open transaction would hold the question until the deadline (and then end the session). While
 * one client's transaction is open, no other can change its catalog anyway.
 */
export function markSerialUpstream(hostPort: string) {
  serialUpstreams.add(hostPort);
}

export class UpstreamMetadata {
  private readonly sql: postgres.Sql;
  private readonly tables = new Kept<number, Map<number, ColumnName>>();
  private readonly relationsByName = new Kept<string, RelationInfo[]>();
  private readonly relativesByOid = new Kept<number, { schema: string; table: string }[]>();
  private readonly codeByName = new Kept<string, string[]>();
  /** whether the database has any function written by users (null: not known); see mayHaveUserCode */
  private anyUserCode: { value: boolean | null; at: number; generation: number; reading: boolean } = { value: null, at: 0, generation: 0, reading: false };
  /** the database it reads (catalog-changes.ts): connections to the same one forget together */
  readonly database: string;
  private readonly serial: boolean;
  private readonly stampChecks = new StampChecks((bases) => catalogRead(changedSince(this.sql, bases)));

  constructor(target: UpstreamTarget) {
    this.database = databaseOf(target);
    this.serial = serialUpstreams.has(`${target.url.hostname}:${target.url.port || 5432}`);
    const tls = target.options.tls === "require";
    this.sql = postgres({
      host: target.url.hostname,
      port: Number(target.url.port || 5432),
      database: decodeURIComponent(target.url.pathname.slice(1)) || target.username,
      username: target.username,
      password: target.secret ?? undefined,
      ssl: tls ? { rejectUnauthorized: target.options.tlsVerify === true } : false,
      max: 1,
      idle_timeout: 30,
      connect_timeout: 10,
      prepare: false,
      onnotice: () => {},
      connection: { application_name: "gatehouse-metadata" },
    });
  }

  /** Names for (table OID, attnum) pairs; unknown pairs (dropped, another database) map to null. */
  async columns(pairs: readonly { oid: number; attnum: number }[]): Promise<Map<string, ColumnName | null>> {
    const oids = [...new Set(pairs.map((p) => p.oid))];
    const byOid = new Map(await Promise.all(oids.map(async (oid) => [oid, await this.tables.get(oid, () => this.readTable(oid))] as const)));
    const out = new Map<string, ColumnName | null>();
    for (const p of pairs) out.set(key(p.oid, p.attnum), byOid.get(p.oid)?.get(p.attnum) ?? null);
    return out;
  }

  /**
   * Every relation (table, view, materialized view, foreign table, sequence) a name in a statement's text
   * may mean: exactly `schema.name` when qualified; when not, the relations of that name in every
   * schema, since which one the client's search_path picks is not known here (the client may
   * have SET it). Names are matched as the parser gives them: case and quotes already applied.
   */
  async relations(ref: { schema?: string; name: string }): Promise<RelationInfo[]> {
    const k = `${ref.schema ?? ""}\u0000${ref.name}`;
    return this.relationsByName.get(k, async () => {
      const rows = await this.sql<{ oid: string; stamp: string; nspname: string; relname: string; relkind: string; definition: string | null; columns: string[] }[]>`
        select c.oid::text as oid, ${this.sql.unsafe(stampOf("c.oid"))} as stamp, n.nspname, c.relname, c.relkind::text as relkind,
          case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as definition,
          array(select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relname = ${ref.name} and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
          and (${ref.schema ?? null}::text is null or n.nspname = ${ref.schema ?? null}::text
               or (${ref.schema ?? null}::text = 'pg_temp' and n.nspname like 'pg\\_temp\\_%'))`;
      const found = rows.map((r) => ({ schema: r.nspname, name: r.relname, oid: Number(r.oid), columns: r.columns, ...(isView(r.relkind) ? { lineage: lineageOf(r.definition, r.columns) } : {}) }));
      return stamped(found, rows, ref);
    });
  }

  /**
   * The tables a table inherits from or is a partition of, nearest first, then the tables that
   * inherit from it or are its partitions. A column rule names the table people query
   * (`payments.pan`); its partitions (`payments_2024`) and inheritance children hold the same rows
   * under other names, and `SELECT pan FROM payments_2024` must be masked by that rule too. The
   * other way round, a parent's scan returns its children's rows: a rule naming a child
   * (`cards.pan`) masks `SELECT pan FROM parent_of_cards` (its own rows too: a superset).
   */
  async relatives(oid: number): Promise<{ schema: string; table: string }[]> {
    return this.relativesByOid.get(oid, async () => {
      // The relation itself (rank 0) for its stamp only: its pg_inherits rows change with ATTACH, DETACH, INHERIT.
      const rows = await this.sql<{ oid: string; stamp: string; rank: number; nspname: string | null; relname: string | null }[]>`
        with recursive up(oid, depth) as (
          select inhparent, 1 from pg_inherits where inhrelid = ${String(oid)}::oid
          union select i.inhparent, up.depth + 1 from pg_inherits i join up on i.inhrelid = up.oid where up.depth < 64),
        down(oid, depth) as (
          select inhrelid, 1 from pg_inherits where inhparent = ${String(oid)}::oid
          union select i.inhrelid, down.depth + 1 from pg_inherits i join down on i.inhparent = down.oid where down.depth < 64),
        kin(oid, rank) as (select ${String(oid)}::oid, 0 union all select oid, depth from up union all select oid, 1000 + depth from down)
        select kin.oid::text as oid, ${this.sql.unsafe(stampOf("kin.oid"))} as stamp, kin.rank, n.nspname, c.relname
        from kin left join pg_class c on c.oid = kin.oid left join pg_namespace n on n.oid = c.relnamespace
        order by kin.rank`;
      const kin = rows.filter((r) => r.rank > 0 && r.nspname !== null && r.relname !== null);
      return stamped(kin.map((r) => ({ schema: r.nspname!, table: r.relname! })), rows);
    });
  }

  /**
   * Code written by users (functions outside pg_catalog and information_schema) that runs when a
   * statement names `ref`, as "schema.function" (user-code.ts says why it matters):
   *   - function: a function, procedure or aggregate of that name (in any schema when unqualified:
   *     the client's search_path may put its schema ahead of pg_catalog);
   *   - operator: the function behind an operator of that name;
   *   - cast: the function of a cast to or from a type of that name, and for a domain the CHECK
   *     constraints of it and of the domains it is made from (a domain over a domain checks both);
   *     with `from` (the operand's type, when the text gives it) only the cast from that type and
   *     what a value of the type runs (CAST_PAIR_CODE);
   *   - relation: triggers (any a user created, USER_TRIGGERS), rules, defaults, constraints, row-level security policies, index and
   *     partition key expressions of the relations of that name, and views' definitions, through
   *     views over views, the tables a foreign key cascades into, and partitions and inheritance children; and what their columns' types
   *     run: their domains' CHECKs (domains under domains too), casts from them (an IMPLICIT cast
   *     runs in `length(col)` unnamed), input/output functions, operator classes (ORDER BY), and
   *     the operator classes of their partition keys and indexes (KEY_OPCLASSES);
   *   - reads: the part of `relation` that reading the relations runs (views' definitions, SELECT
   *     rules, row-level security policies, casts from and input/output functions of column types,
   *     key and index operator classes), for them and their partitions and inheritance children;
   *   - systemCasts: casts users wrote between types shipped with PostgreSQL, which any statement
   *     may run (`ref` is ignored);
   *   - event: the enabled event triggers of the database (any DDL runs them; `ref` is ignored).
   * The answer is cached like every catalog answer (CACHE_TTL_MS), but for event triggers.
   */
  async userCode(kind: "function" | "operator" | "cast" | "relation" | "reads" | "systemCasts" | "event", ref: CodeRef): Promise<string[]> {
    const schema = ref.schema ?? null;
    const query = kind === "cast" && ref.from ? "castFrom" : kind;
    const params = query === "event" || query === "systemCasts" ? [] : query === "castFrom" ? [ref.name, schema, ref.from!.name, ref.from!.schema ?? null] : [ref.name, schema];
    const read = async () => (await this.sql.unsafe<{ fn: string }[]>(USER_CODE[query], params)).map((r) => r.fn);
    // Event triggers are read each time: only DDL asks, and one created a moment ago must count.
    return kind === "event" ? catalogRead(read()) : this.codeByName.get([query, ...params].map((p) => p ?? "").join("\u0000"), async () => ({ value: await read() }));
  }

  /**
   * false only when the database is known to have no function, trigger or foreign table program
   * written by users at all: then no statement can run user code (every way to run some ends at
   * one of these: a pg_proc row outside SYSTEM, FDW_PROGRAMS) and the per-name lookups are skipped. It is read in the background (a session asks at its start,
   * while idle), never on a statement's path: an upstream that serves one transaction at a time
   * (the embedded demo's PGlite) would hold a lookup behind the client's own open transaction.
   * Unknown (true) until read, and again at once after the catalog changed (forget).
   */
  mayHaveUserCode(): boolean {
    const flag = this.anyUserCode;
    if (!flag.reading && Date.now() - flag.at >= CACHE_TTL_MS / 3) {
      flag.reading = true;
      const generation = flag.generation;
      this.sql
        .unsafe<{ any: boolean }[]>(`select exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where not ${SYSTEM})
          or exists (select 1 from pg_trigger where not tgisinternal)
          or exists (select 1 from pg_foreign_table f join pg_foreign_server s on s.oid = f.ftserver
            where exists (select 1 from unnest(coalesce(f.ftoptions, '{}') || coalesce(s.srvoptions, '{}')) o where o like 'program=%')) as any`)
        .then(
          (rows) => {
            if (generation === flag.generation) Object.assign(flag, { value: rows[0]?.any !== false, at: Date.now() });
          },
          () => {
            if (generation === flag.generation) Object.assign(flag, { value: null, at: Date.now() });
          },
        )
        .finally(() => (flag.reading = false));
    }
    return flag.value !== false;
  }

  /** Whether the function with this OID (a FunctionCall names only that) is code written in the database; true when there is none. */
  async isUserFunction(oid: number): Promise<boolean> {
    const rows = await catalogRead(this.sql.unsafe<{ system: boolean }[]>(`select ${SYSTEM} as system from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.oid = $1::oid`, [String(oid)]));
    return rows[0]?.system !== true;
  }

  private async readTable(oid: number): Promise<Read<Map<number, ColumnName>>> {
    // One row at least (its stamp), also for a relation that does not exist (dropped, another database's OID).
    const rows = await this.sql<{ oid: string; stamp: string; nspname: string; relname: string; relkind: string; attnum: number | null; attname: string }[]>`
      select t.oid::text as oid, ${this.sql.unsafe(stampOf("t.oid"))} as stamp, x.* from (select ${String(oid)}::oid as oid) t left join lateral (
        select n.nspname, c.relname, c.relkind::text as relkind, a.attnum::int4 as attnum, a.attname
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where c.oid = t.oid and a.attnum > 0 and not a.attisdropped) x on true`;
    const columns = rows.filter((r) => r.attnum !== null);
    return stamped(new Map(columns.map((r) => [r.attnum!, { schema: r.nspname, table: r.relname, column: r.attname, ...(isView(r.relkind) ? { view: true } : {}) }])), rows.slice(0, 1));
  }

  /**
   * `work`'s answer (masking a result with this pool's answers), once the answers it used are
   * known to still be what the catalog says (catalog-stamps.ts): when one is not (DDL ran on the
   * database directly), every answer is forgotten and `work` runs again. One query per call; none
   * on a serial upstream (markSerialUpstream). Throws when the catalog cannot be read or keeps
   * changing (the caller fails closed).
   */
  async checked<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { value, bases } = await usedBy(work);
      if (this.serial || bases.length === 0 || !(await this.stampChecks.changed(bases))) return value;
      this.forget();
    }
    throw new Error("the upstream catalog kept changing while a result was masked");
  }

  /** Drops every kept answer (DDL ran on this database). */
  forget() {
    Object.assign(this.anyUserCode, { value: null, at: 0, generation: this.anyUserCode.generation + 1, reading: false });
    for (const kept of [this.tables, this.relationsByName, this.relativesByOid, this.codeByName] as Kept<unknown, unknown>[]) kept.clear();
  }

  async close() {
    await this.sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** "host:port/database" of a connection's upstream. */
export function databaseOf(target: UpstreamTarget): string {
  return `${target.url.hostname}:${target.url.port || 5432}/${decodeURIComponent(target.url.pathname.slice(1)) || target.username}`;
}

/**
 * Functions shipped with PostgreSQL or with an installed extension (hstore's casts, pgcrypto):
 * code the gateway takes as not moving data by itself. Extensions that do (dblink) are classified
 * by the function rules (classify/functions.ts) before this.
 */
const SYSTEM = `(n.nspname in ('pg_catalog', 'information_schema')
  or exists (select 1 from pg_depend e where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.refclassid = 'pg_extension'::regclass and e.deptype = 'e'))`;
/** $1: the name as the parser gives it; $2: its schema, or null when unqualified. */
const inSchema = (alias: string, schema = "$2") => `(${schema}::text is null or ${alias}.nspname = ${schema}::text or (${schema}::text = 'pg_temp' and ${alias}.nspname like 'pg\\_temp\\_%'))`;
/** The user functions objects (classid, objid) in a CTE `objs` depend on. */
const CODE_OF_OBJS = `select distinct n.nspname || '.' || p.proname as fn from objs o
      join pg_depend d on d.classid = o.classid and d.objid = o.objid and d.refclassid = 'pg_proc'::regclass
      join pg_proc p on p.oid = d.refobjid join pg_namespace n on n.oid = p.pronamespace
    where not ${SYSTEM}`;
/** The types of the columns of the relations in a CTE `rels`. */
const COLUMN_TYPES = `select distinct a.atttypid, 0 from rels r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped`;
/**
 * CTE `name` (default `types`): the types `seed` selects (oid, 0), and under each domain its base
 * type (a domain over a domain checks both), under each array its element type, under each
 * composite type (a table's row type: `row(...)::t`, `json_populate_record(null::t, ...)`) its
 * attributes' types.
 */
const typeChain = (seed: string, name = "types") => `${name}(oid, depth) as (${seed}
      union select x.oid, ty.depth + 1 from ${name} ty join pg_type t on t.oid = ty.oid
        cross join lateral (select case when t.typtype = 'd' then t.typbasetype end
          union all select nullif(t.typelem, 0)
          union all select a.atttypid from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) x(oid)
      where x.oid is not null and ty.depth < 32)`;
/** Types of that name ($1, $2 its schema; $3, $4 for a cast's operand type). */
const typesNamed = (name: string, schema: string) => `select t.oid, 0 from pg_type t join pg_namespace s on s.oid = t.typnamespace where t.typname = ${name} and ${inSchema("s", schema)}`;
/** A type shipped with PostgreSQL or an installed extension (hstore), as SYSTEM is for functions. */
const systemType = (oid: string) => `exists (select 1 from pg_type st join pg_namespace sn on sn.oid = st.typnamespace where st.oid = ${oid}
      and (sn.nspname in ('pg_catalog', 'information_schema')
        or exists (select 1 from pg_depend e where e.classid = 'pg_type'::regclass and e.objid = st.oid and e.refclassid = 'pg_extension'::regclass and e.deptype = 'e')))`;
/**
 * Code a value of a type in CTE `types` runs without the statement naming it: its input/output
 * functions, the support functions and operators of its operator classes (ORDER BY, DISTINCT,
 * GROUP BY, joins compare with them).
 */
const TYPE_VALUE_CODE = `select 'pg_type'::regclass, ty.oid from types ty
      union all select 'pg_amproc'::regclass, p.oid from types ty join pg_opclass k on k.opcintype = ty.oid join pg_amproc p on p.amprocfamily = k.opcfamily
      union all select 'pg_operator'::regclass, o.amopopr from types ty join pg_opclass k on k.opcintype = ty.oid join pg_amop o on o.amopfamily = k.opcfamily`;
/**
 * ...and the casts from it that run unnamed (an IMPLICIT one in `length(col)`, an ASSIGNMENT one
 * storing it into a column; an EXPLICIT one runs only where `::x` is written, and that cast is
 * looked up itself), and the casts to it when it is a type written by users: a value of another
 * type meets it unnamed (an assignment into a column of it, `col = 'x'::text` through an implicit
 * cast), which CAST_PAIR_CODE counts on. When it is stored
 * or cast to, a domain's CHECK constraints too (TYPE_CODE), and a cast to it when one is written
 * (`x::t`, CAST_TO_CODE).
 */
const TYPE_READ_CODE = `select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.castsource = ty.oid and c.castcontext in ('i', 'a')
      union all select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.casttarget = ty.oid where not ${systemType("ty.oid")}
      union all ${TYPE_VALUE_CODE}`;
const DOMAIN_CODE = `select 'pg_constraint'::regclass, k.oid from types ty join pg_constraint k on k.contypid = ty.oid`;
const TYPE_CODE = `${DOMAIN_CODE}
      union all ${TYPE_READ_CODE}`;
const CAST_TO_CODE = `select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.casttarget = ty.oid
      union all ${TYPE_CODE}`;
/**
 * `x::t` where the text gives x's type (CTE `operands`: a literal's, another cast's): the cast
 * from that type, not every cast to t; what a value of t runs; and of the casts from t only the
 * IMPLICIT and ASSIGNMENT ones into types shipped with PostgreSQL (`length(1::t)` runs one
 * unnamed). A cast from t into a type written by users runs only where a value of that type is
 * expected, and such a value comes from a column, cast or function that is looked up itself
 * (TYPE_READ_CODE counts casts to it).
 */
const CAST_PAIR_CODE = `select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.casttarget = ty.oid join operands o on o.oid = c.castsource
      union all select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.castsource = ty.oid where c.castcontext in ('i', 'a') and ${systemType("c.casttarget")}
      union all ${DOMAIN_CODE}
      union all ${TYPE_VALUE_CODE}`;
/**
 * Triggers a user created count whatever their function: one shipped with an extension runs
 * SQL its arguments name (refint's check_foreign_key deletes from the tables they list) or sends
 * a row's key in a NOTIFY payload (tcn). The foreign-key triggers PostgreSQL makes itself
 * (tgisinternal) run only its own RI_FKey functions.
 */
const USER_TRIGGERS = `select n.nspname || '.' || p.proname as fn from rels r join pg_trigger t on t.tgrelid = r.oid and not t.tgisinternal
      join pg_proc p on p.oid = t.tgfoid join pg_namespace n on n.oid = p.pronamespace`;
/**
 * The operator classes of the partition keys and indexes of the relations in a CTE `rels`: their
 * support functions and operators run on insert routing, partition pruning and index scans,
 * whatever the column's own type (TYPE_VALUE_CODE follows that one; a class for inet on a cidr key,
 * binary coercible, only this).
 */
const KEY_OPCLASSES = `(select k.opcfamily from rels r
        join pg_depend d on d.classid = 'pg_class'::regclass and d.refclassid = 'pg_opclass'::regclass
          and (d.objid = r.oid or d.objid in (select i.indexrelid from pg_index i where i.indrelid = r.oid))
        join pg_opclass k on k.oid = d.refobjid)`;
const KEY_OPCLASS_CODE = `select 'pg_amproc'::regclass, p.oid from pg_amproc p where p.amprocfamily in ${KEY_OPCLASSES}
      union all select 'pg_operator'::regclass, o.amopopr from pg_amop o where o.amopfamily in ${KEY_OPCLASSES}`;
/**
 * Foreign tables whose rows are a program's output (file_fdw's `program` option; any wrapper's,
 * on the table or its server): every scan runs a shell command on the database server.
 */
const FDW_PROGRAMS = `select 'program of ' || n.nspname || '.' || c.relname as fn from rels r join pg_foreign_table f on f.ftrelid = r.oid
      join pg_foreign_server s on s.oid = f.ftserver join pg_class c on c.oid = r.oid join pg_namespace n on n.oid = c.relnamespace
    where exists (select 1 from unnest(coalesce(f.ftoptions, '{}') || coalesce(s.srvoptions, '{}')) o where o like 'program=%')`;
const USER_CODE = {
  function: `select n.nspname || '.' || p.proname as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where p.proname = $1 and ${inSchema("n")} and not ${SYSTEM}`,
  operator: `select n.nspname || '.' || p.proname as fn from pg_operator o join pg_namespace s on s.oid = o.oprnamespace
    join pg_proc p on p.oid = o.oprcode join pg_namespace n on n.oid = p.pronamespace
    where o.oprname = $1 and ${inSchema("s")} and not ${SYSTEM}`,
  cast: `with recursive ${typeChain(typesNamed("$1", "$2"))},
    objs(classid, objid) as (${CAST_TO_CODE})
    ${CODE_OF_OBJS}`,
  // $3, $4: the operand's type, with its base types (a cast from a domain is looked up from its base too)
  castFrom: `with recursive ${typeChain(typesNamed("$1", "$2"))}, ${typeChain(typesNamed("$3", "$4"), "operands")},
    objs(classid, objid) as (${CAST_PAIR_CODE})
    ${CODE_OF_OBJS}`,
  // The relations a statement on one reaches: what its views and rules read or write, the
  // tables a foreign key cascades an UPDATE or DELETE into (their triggers fire too), and its
  // partitions and inheritance children (a row routed into a partition, or updated in a child
  // through its parent, fires that table's own triggers).
  relation: `with recursive edges(src, dst) as (
      select w.ev_class, d.refobjid from pg_rewrite w
        join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = w.oid and d.refclassid = 'pg_class'::regclass
      union all
      select i.inhparent, i.inhrelid from pg_inherits i
      union all
      select k.confrelid, k.conrelid from pg_constraint k
      where k.contype = 'f' and (k.confdeltype in ('c', 'n', 'd') or k.confupdtype in ('c', 'n', 'd'))),
    rels(oid, depth) as (
      select c.oid, 0 from pg_class c join pg_namespace s on s.oid = c.relnamespace where c.relname = $1 and ${inSchema("s")}
      union
      select e.dst, r.depth + 1 from rels r join edges e on e.src = r.oid where r.depth < 32 and e.dst <> r.oid),
    ${typeChain(COLUMN_TYPES)},
    objs(classid, objid) as (
      select 'pg_rewrite'::regclass, w.oid from rels r join pg_rewrite w on w.ev_class = r.oid
      union all select 'pg_trigger'::regclass, t.oid from rels r join pg_trigger t on t.tgrelid = r.oid
      union all select 'pg_attrdef'::regclass, a.oid from rels r join pg_attrdef a on a.adrelid = r.oid
      union all select 'pg_constraint'::regclass, k.oid from rels r join pg_constraint k on k.conrelid = r.oid
      union all select 'pg_policy'::regclass, p.oid from rels r join pg_policy p on p.polrelid = r.oid
      union all select 'pg_class'::regclass, i.indexrelid from rels r join pg_index i on i.indrelid = r.oid
      union all select 'pg_class'::regclass, r.oid from rels r
      union all ${KEY_OPCLASS_CODE}
      union all ${TYPE_CODE})
    ${CODE_OF_OBJS}
    union ${USER_TRIGGERS}
    union ${FDW_PROGRAMS}`,
  // What reading the relations of that name runs: views' definitions (through views over views),
  // SELECT rules, row-level security policies, what their columns' types run, the operator
  // classes of partition keys (pruning) and indexes (scans), and file_fdw programs; a scan of a
  // parent reads its partitions and inheritance children too (a superset: their own policies
  // do not apply through the parent).
  reads: `with recursive edges(src, dst) as (
      select w.ev_class, d.refobjid from pg_rewrite w
        join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = w.oid and d.refclassid = 'pg_class'::regclass
      where w.ev_type = '1'
      union all
      select i.inhparent, i.inhrelid from pg_inherits i),
    rels(oid, depth) as (
      select c.oid, 0 from pg_class c join pg_namespace s on s.oid = c.relnamespace where c.relname = $1 and ${inSchema("s")}
      union
      select e.dst, r.depth + 1 from rels r join edges e on e.src = r.oid where r.depth < 32 and e.dst <> r.oid),
    ${typeChain(COLUMN_TYPES)},
    objs(classid, objid) as (
      select 'pg_rewrite'::regclass, w.oid from rels r join pg_rewrite w on w.ev_class = r.oid and w.ev_type = '1'
      union all select 'pg_policy'::regclass, p.oid from rels r join pg_policy p on p.polrelid = r.oid
      union all ${KEY_OPCLASS_CODE}
      union all ${TYPE_READ_CODE})
    ${CODE_OF_OBJS}
    union ${FDW_PROGRAMS}`,
  // Casts between types shipped with PostgreSQL that a superuser wrote (`CREATE CAST (int8 AS text)
  // WITH FUNCTION f`) run from anywhere: built-in SQL functions cast inside (`1::int8 || 'x'` is
  // textanycat, `select $1 || $2::pg_catalog.text`), an implicit one runs in `length(1)`.
  systemCasts: `select distinct n.nspname || '.' || p.proname as fn from pg_cast c join pg_proc p on p.oid = c.castfunc join pg_namespace n on n.oid = p.pronamespace
    where not ${SYSTEM} and ${systemType("c.castsource")} and ${systemType("c.casttarget")}`,
  event: `select n.nspname || '.' || p.proname as fn from pg_event_trigger e join pg_proc p on p.oid = e.evtfoid join pg_namespace n on n.oid = p.pronamespace
    where e.evtenabled <> 'D' and not ${SYSTEM}`,
};

function key(oid: number, attnum: number) {
  return `${oid}:${attnum}`;
}

/** relkind: v = view, m = materialized view */
function isView(relkind: string) {
  return relkind === "v" || relkind === "m";
}

/** A view's definition, as pg_get_viewdef prints it, has one output column per view column. */
export function lineageOf(definition: string | null, columns: readonly string[]): ViewLineage {
  const outputs = definition ? columnSourcesOfSelect(definition) : null;
  if (!outputs || outputs.length !== columns.length || outputs.some((o) => o.star)) return "opaque";
  return new Map(columns.map((c, i) => [c, outputs[i].sources]));
}

const pools: Map<string, UpstreamMetadata> = (g.__gatehousePgMetadata ??= new Map());

/** One metadata pool per connection and upstream address (a changed connection gets a new one). */
export function metadataFor(target: UpstreamTarget): UpstreamMetadata {
  const id = `${target.ref.id}|${target.url.href}|${target.username}`;
  let m = pools.get(id);
  if (!m) {
    m = new UpstreamMetadata(target);
    pools.set(id, m);
  }
  return m;
}

/** Every pool of this process on `database` forgets what it kept. */
export function forgetDatabase(database: string) {
  for (const m of pools.values()) if (m.database === database) m.forget();
}

export async function closeAllMetadata() {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((m) => m.close()));
}
