import { sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { asPgliteRaw, execBinary } from "@/db/pglite-binary";

/** One session event, its payload already serialized (the recorder serializes each event once). */
export interface SessionEventRow {
  seq: number;
  tMs: number;
  kind: string;
  payloadJson: string;
  /** bytes for the `data` column (bulk terminal output, lib/gateway/recorder/packed-output.ts) */
  data?: Buffer;
}

/**
 * Appends a batch of one session's events to `session_events` as ONE statement with one JSON
 * parameter. All-or-nothing like any single INSERT: the recorder keeps and retries a failed batch.
 */
export async function appendSessionEvents(db: Db, sessionId: string, events: readonly SessionEventRow[]): Promise<void> {
  await appendEvents(db, [{ sessionId, rows: events }]);
}

/**
 * Appends the events of several sessions as ONE statement. A drizzle multi-row insert binds five
 * parameters per row and rebuilds the query text each time; on PGlite, which serializes every
 * query of the process on the gateway's thread, each statement also has a fixed cost, so the
 * recorder writes every live session's events together (measured on PGlite: ~140 µs per event in
 * batches of 10, ~15 µs in batches of 1000; ~8 µs with COPY, below).
 *
 * Idempotent: an event already stored (same session and seq, e.g. a batch retried after its
 * commit was not confirmed, or spooled output re-stored after a crash) is skipped.
 */
export async function appendEvents(db: Db, parts: readonly { sessionId: string; rows: readonly SessionEventRow[] }[]): Promise<void> {
  // The id goes into the JSON (and COPY) text as is: refuse anything that is not a UUID rather than escape it.
  for (const { sessionId } of parts) if (!UUID.test(sessionId)) throw new Error(`not a session id: ${JSON.stringify(sessionId)}`);
  if (!parts.some((p) => p.rows.length)) return;
  const client = (db as unknown as { $client: unknown }).$client;
  const withBytes = parts.some((p) => p.rows.some((e) => e.data));
  if (!withBytes && isPglite(client) && (await copyIntoPglite(client, parts))) return;
  const json: string[] = [];
  const blobs: Buffer[] = [];
  for (const { sessionId, rows } of parts) {
    for (const e of rows) {
      const d = e.data ? `,"d":${blobs.push(e.data)}` : "";
      json.push(`{"s":"${sessionId}","seq":${e.seq},"t_ms":${e.tMs},"kind":${JSON.stringify(e.kind)},"payload":${e.payloadJson}${d}}`);
    }
  }
  if (blobs.length) return appendWithBytes(client, `[${json.join(",")}]`, blobs);
  await db.execute(sql`
    insert into session_events (session_id, seq, t_ms, kind, payload)
    select e.s, e.seq, e.t_ms, e.kind, e.payload
    from jsonb_to_recordset(${`[${json.join(",")}]`}::jsonb) as e(s uuid, seq integer, t_ms bigint, kind text, payload jsonb)
    order by e.s, e.seq
    on conflict (session_id, seq) do nothing`);
}

interface PgliteCopy {
  query(text: string, params: unknown[], opts: { blob: Blob }): Promise<unknown>;
}
const isPglite = (client: unknown): client is PgliteCopy => asPgliteRaw(client) !== null && typeof (client as PgliteCopy).query === "function";

/**
 * The rows as COPY text through PGlite's `/dev/blob`: a third less of PGlite's time per row than
 * the JSON insert, and no parameter for PGlite to encode in JavaScript. `query()` holds PGlite's
 * transaction lock (as execBinary does), so the COPY never lands inside another caller's
 * transaction. COPY cannot skip rows already stored: on a duplicate it returns false and the
 * caller inserts skipping them.
 */
async function copyIntoPglite(client: PgliteCopy, parts: readonly { sessionId: string; rows: readonly SessionEventRow[] }[]): Promise<boolean> {
  let text = "";
  for (const { sessionId, rows } of parts) {
    for (const e of rows) text += `${sessionId}\t${e.seq}\t${e.tMs}\t${copyEscape(e.kind)}\t${copyEscape(e.payloadJson)}\n`;
  }
  try {
    await client.query("copy session_events (session_id, seq, t_ms, kind, payload) from '/dev/blob'", [], { blob: new Blob([text]) });
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") return false;
    throw err;
  }
}

/** COPY's text format: backslash, tab, newline and carriage return escaped (JSON has no other control characters). */
const copyEscape = (s: string) => (/[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : s);
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/**
 * The same insert with bytes: row JSON names its bytes by number (`d`), the bytes are parameters
 * $2.. of their own, joined in. Bytes never go through JSON or base64: on PGlite they travel as
 * binary parameters (db/pglite-binary.ts); postgres.js sends a Buffer as a bytea parameter in
 * hex, which PostgreSQL decodes in C, in its own process.
 */
async function appendWithBytes(client: unknown, json: string, blobs: Buffer[]): Promise<void> {
  const values = blobs.map((_, i) => `(${i + 1},$${i + 2}::bytea)`).join(",");
  const text = `
    insert into session_events (session_id, seq, t_ms, kind, payload, data)
    select e.s, e.seq, e.t_ms, e.kind, e.payload, b.data
    from jsonb_to_recordset($1::jsonb) as e(s uuid, seq integer, t_ms bigint, kind text, payload jsonb, d integer)
    left join (values ${values}) as b(i, data) on b.i = e.d
    order by e.s, e.seq
    on conflict (session_id, seq) do nothing`;
  const pglite = asPgliteRaw(client);
  if (pglite) return execBinary(pglite, text, [json, ...blobs]);
  await (client as import("postgres").Sql).unsafe(text, [json, ...blobs]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
