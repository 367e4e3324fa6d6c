import type postgres from "postgres";

/**
 * Terminal sessions written straight into Gatehouse's PostgreSQL, and their live events
 * published on Gatehouse's bus channel (LISTEN/NOTIFY), exactly as a gateway process on the same
 * database would: for testing the live view and the tail without an SSH gateway in the loop.
 */
export interface TermEvent {
  seq: number;
  tMs: number;
  kind: string;
  payload: Record<string, unknown>;
}

export async function insertTerminalSession(sql: postgres.Sql, s: { userId: string; userEmail: string; connection?: string; status?: string; startedAt?: Date }): Promise<string> {
  const chain = [{ kind: "user", id: s.userId, name: s.userEmail }];
  const [row] = await sql`
    insert into sessions (user_id, user_email, chain, connection_name, protocol, origin, client_address, status, started_at)
    values (${s.userId}, ${s.userEmail}, ${sql.json(chain)}, ${s.connection ?? "web-host"}, 'ssh', 'native', '127.0.0.1', ${s.status ?? "live"}, ${s.startedAt ?? new Date()})
    returning id`;
  return row.id as string;
}

export async function appendTerminalEvents(sql: postgres.Sql, sessionId: string, events: TermEvent[]) {
  if (!events.length) return;
  await sql`
    insert into session_events (session_id, seq, t_ms, kind, payload)
    select ${sessionId}::uuid, e.seq, e.t_ms, e.kind, e.payload
    from jsonb_to_recordset(${JSON.stringify(events.map((e) => ({ seq: e.seq, t_ms: e.tMs, kind: e.kind, payload: e.payload })))}::text::jsonb) as e(seq integer, t_ms bigint, kind text, payload jsonb)`;
}

/** What SessionRecorder publishes for live viewers, delivered to every Gatehouse process on this database. */
export async function publishTerminalEvent(sql: postgres.Sql, sessionId: string, event: TermEvent) {
  await sql`select pg_notify('gatehouse_events', ${JSON.stringify({ topic: "session.event", data: { sessionId, event }, origin: "test-process" })})`;
}

export async function endTerminalSession(sql: postgres.Sql, sessionId: string, status = "ended") {
  await sql`update sessions set status = ${status}, ended_at = now() where id = ${sessionId}`;
  await sql`select pg_notify('gatehouse_events', ${JSON.stringify({ topic: "session.ended", data: { id: sessionId, status }, origin: "test-process" })})`;
}
