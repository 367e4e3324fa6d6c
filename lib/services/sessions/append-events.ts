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
 * Appends the events of several sessions as ONE statement with one JSON parameter. A drizzle
 * multi-row insert binds five parameters per row and rebuilds the query text each time; on
 * PGlite, which serializes every query of the process on the gateway's thread, each statement
 * also has a fixed cost, so the recorder writes every live session's events together
 * (measured on PGlite: ~140 µs per event in batches of 10, ~15 µs in batches of 1000).
 */
export async function appendEvents(db: Db, parts: readonly { sessionId: string; rows: readonly SessionEventRow[] }[]): Promise<void> {
  const json: string[] = [];
  const blobs: Buffer[] = [];
  for (const { sessionId, rows } of parts) {
    // The id goes into the JSON text as is: refuse anything that is not a UUID rather than escape it.
    if (!UUID.test(sessionId)) throw new Error(`not a session id: ${JSON.stringify(sessionId)}`);
    for (const e of rows) {
      const d = e.data ? `,"d":${blobs.push(e.data)}` : "";
      json.push(`{"s":"${sessionId}","seq":${e.seq},"t_ms":${e.tMs},"kind":${JSON.stringify(e.kind)},"payload":${e.payloadJson}${d}}`);
    }
  }
  if (json.length === 0) return;
  if (blobs.length) return appendWithBytes(db, `[${json.join(",")}]`, blobs);
  await db.execute(sql`
    insert into session_events (session_id, seq, t_ms, kind, payload)
    select e.s, e.seq, e.t_ms, e.kind, e.payload
    from jsonb_to_recordset(${`[${json.join(",")}]`}::jsonb) as e(s uuid, seq integer, t_ms bigint, kind text, payload jsonb)
    order by e.s, e.seq`);
}

/**
 * The same insert with bytes: row JSON names its bytes by number (`d`), the bytes are parameters
 * $2.. of their own, joined in. Bytes never go through JSON or base64: on PGlite they travel as
 * binary parameters (db/pglite-binary.ts); postgres.js sends a Buffer as a bytea parameter in
 * hex, which PostgreSQL decodes in C, in its own process.
 */
async function appendWithBytes(db: Db, json: string, blobs: Buffer[]): Promise<void> {
  const values = blobs.map((_, i) => `(${i + 1},$${i + 2}::bytea)`).join(",");
  const text = `
    insert into session_events (session_id, seq, t_ms, kind, payload, data)
    select e.s, e.seq, e.t_ms, e.kind, e.payload, b.data
    from jsonb_to_recordset($1::jsonb) as e(s uuid, seq integer, t_ms bigint, kind text, payload jsonb, d integer)
    left join (values ${values}) as b(i, data) on b.i = e.d
    order by e.s, e.seq`;
  const client = (db as unknown as { $client: unknown }).$client;
  const pglite = asPgliteRaw(client);
  if (pglite) return execBinary(pglite, text, [json, ...blobs]);
  await (client as import("postgres").Sql).unsafe(text, [json, ...blobs]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
