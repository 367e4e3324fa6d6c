import postgres from "postgres";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import { withDeadline } from "@/lib/util/deadline";
import { changedSince, noteUsed, StampChecks, stampOf, usedBy, type Basis } from "./catalog-stamps";
import { columnSourcesOfSelect } from "./column-sources";
import { alteredExtensionFunctions } from "./extension-bodies";
import { alteredOidsQuery, INVENTORY, RULED_CALLS, RUNS_PROGRAM, SYSTEM, USER_CODE, withAltered } from "./user-code-queries";

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
  /** views and materialized views only: pg_get_viewdef's text (catalog-tables.ts reads the relations it names) */
  definition?: string;
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
  /** a serial upstream (markSerialUpstream): a lookup inside the client's open transaction waits for its end */
  get servesOneTransaction(): boolean {
    return this.serial;
  }
  /** a serial upstream's names that can run user code (warm); valid while `generation` is anyUserCode's */
  private inventory: { at: number; generation: number; function: Set<string>; operator: Set<string>; typeCode: boolean } | null = null;
  /** alteredOids's answer; valid while `generation` is anyUserCode's */
  private altered: { at: number; generation: number; oids: Promise<string> } | null = null;
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
      // The catalog queries' estimated cost (recursive CTEs) passes jit_above_cost: PostgreSQL then
      // spent 150-200 ms compiling each one that runs in 10 ms, on every lookup. Their regular
      // expressions ('\d+', '^\$libdir') need standard strings: a database or role set to
      // standard_conforming_strings = off read them as 'd+' and found nothing.
      connection: { application_name: "gatehouse-metadata", jit: "off", standard_conforming_strings: "on" },
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
      const found = rows.map((r) => ({ schema: r.nspname, name: r.relname, oid: Number(r.oid), columns: r.columns, ...(isView(r.relkind) ? { lineage: lineageOf(r.definition, r.columns), definition: r.definition ?? "" } : {}) }));
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
   * Each kind also names, as `builtin:schema.name`, the built-ins the function rules classify
   * (nextval, pg_advisory_lock, dblink) that those objects call (user-code-queries.ts RULED).
   * The answer is cached like every catalog answer (CACHE_TTL_MS), but for event triggers.
   */
  async userCode(kind: "function" | "operator" | "cast" | "relation" | "reads" | "systemCasts" | "event", ref: CodeRef): Promise<string[]> {
    const schema = ref.schema ?? null;
    const query = kind === "cast" && ref.from ? "castFrom" : kind;
    const params = query === "event" || query === "systemCasts" ? [] : query === "castFrom" ? [ref.name, schema, ref.from!.name, ref.from!.schema ?? null] : [ref.name, schema];
    if (this.inventoryRules(kind, ref.name)) return [];
    const read = async () => (await this.sql.unsafe<{ fn: string }[]>(await this.withAltered(USER_CODE[query]), params)).map((r) => r.fn);
    // Event triggers are read each time: only DDL asks, and one created a moment ago must count.
    return kind === "event" ? catalogRead(read()) : this.codeByName.get([query, ...params].map((p) => p ?? "").join("\u0000"), async () => ({ value: await read() }));
  }

  /**
   * On a serial upstream (markSerialUpstream: the embedded demo's PGlite), reads ahead at a
   * session's start, before any of its statements is forwarded (so before it opens a transaction):
   * the names of functions and operators written by users and whether any type runs such code
   * (INVENTORY: a lookup of another name needs no query), and every lookup on the database's own
   * relations (user code, masking). A statement inside the client's transaction then finds its
   * answers here instead of waiting behind that transaction until the deadline and being decided
   * without them. Best effort: what it cannot read is looked up, and fails closed, as before.
   */
  warm(): Promise<void> | null {
    return this.serial ? this.readAhead() : null;
  }

  private async readAhead(): Promise<void> {
    const generation = this.anyUserCode.generation;
    try {
      const [inv] = await catalogRead(this.sql.unsafe<{ functions: string[]; operators: string[]; type_code: boolean; schemas: string[]; names: string[] }[]>(await this.withAltered(INVENTORY)));
      if (!inv || generation !== this.anyUserCode.generation) return;
      this.inventory = { at: Date.now(), generation, function: new Set(inv.functions), operator: new Set(inv.operators), typeCode: inv.type_code };
      const refs = inv.names.flatMap((name, i) => [{ name }, { schema: inv.schemas[i], name }]);
      const relations = async (ref: CodeRef) => {
        for (const r of await this.relations(ref)) if (r.oid !== undefined) await Promise.all([this.tables.get(r.oid, () => this.readTable(r.oid!)), this.relatives(r.oid)]);
      };
      await Promise.all([this.userCode("systemCasts", { name: "" }), ...refs.flatMap((ref) => [this.userCode("reads", ref), this.userCode("relation", ref), relations(ref)])]);
    } catch {
      // Not read: each lookup is made (and fails closed) when a statement needs it.
    }
  }

  /** Whether the inventory (warm) says a lookup of `name` finds no user code, without asking. */
  private inventoryRules(kind: string, name: string): boolean {
    const inv = this.inventory;
    if (!inv || inv.generation !== this.anyUserCode.generation || Date.now() - inv.at >= CACHE_TTL_MS) return false;
    if (kind === "function" || kind === "operator") return !inv[kind].has(name);
    return kind === "cast" && !inv.typeCode;
  }

  /**
   * false only when the database is known to have no function, trigger or foreign table program
   * written by users at all, and no object of theirs calling a built-in the function rules
   * classify (RULED_CALLS): then no statement can run user code (every way to run some ends at
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
      this.withAltered(`select exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where not ${SYSTEM})
          or exists (select 1 from pg_trigger where not tgisinternal)
          or exists (select 1 from pg_foreign_table f join pg_foreign_server s on s.oid = f.ftserver where ${RUNS_PROGRAM})
          or ${RULED_CALLS} as any`)
        .then((query) => this.sql.unsafe<{ any: boolean }[]>(query))
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

  /** `query` with the altered built-ins (alteredOids) that its SYSTEM reads. */
  private async withAltered(query: string): Promise<string> {
    return withAltered(query, await this.alteredOids());
  }

  /**
   * The built-ins a superuser changed (user-code-queries.ts ALTERED_BUILTINS) and the extensions'
   * SQL functions that do more than read (extension-bodies.ts), as the OIDs every lookup counts as
   * code written by users: read once per CACHE_TTL_MS and again after forget(), like the answers
   * of the lookups themselves (each read takes some 20-120 ms of the upstream's, more with more
   * extensions: it reads what PostgreSQL's own functions call and their SQL bodies, and the
   * extensions' functions, whose bodies are parsed here).
   */
  private alteredOids(): Promise<string> {
    const cached = this.altered;
    const generation = this.anyUserCode.generation;
    if (cached && cached.generation === generation && Date.now() - cached.at < CACHE_TTL_MS) return cached.oids;
    const oids = catalogRead(
      (async () => {
        const [{ v }] = await this.sql.unsafe<{ v: number }[]>(`select current_setting('server_version_num')::int as v`);
        const builtins = (await this.sql.unsafe<{ oids: string }[]>(alteredOidsQuery(v)))[0]?.oids ?? "";
        const members = await alteredExtensionFunctions((text, params) => this.sql.unsafe(text, params as never[]), builtins, v);
        return [builtins, ...members].filter(Boolean).join(",");
      })(),
    );
    const entry = { at: Date.now(), generation, oids };
    this.altered = entry;
    // A failed read is not kept: the next lookup asks again (this one fails closed).
    oids.catch(() => void (this.altered === entry && (this.altered = null)));
    return oids;
  }

  /** Whether the function with this OID (a FunctionCall names only that) is code written in the database; true when there is none. */
  async isUserFunction(oid: number): Promise<boolean> {
    const query = await this.withAltered(`select ${SYSTEM} as system from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.oid = $1::oid`);
    const rows = await catalogRead(this.sql.unsafe<{ system: boolean }[]>(query, [String(oid)]));
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
