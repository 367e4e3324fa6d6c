import { describe, expect, it } from "vitest";
import { migratedUpTo } from "../tests/support/migrations-at";

describe("migrations on existing data", () => {
  it("0005 keys session events by (session, seq), keeping every event once", async () => {
    const { client, rest, close } = await migratedUpTo("0004_session_event_data");
    try {
      const s = "00000000-0000-4000-8000-0000000000aa";
      // seq 2 stored twice, as a spool re-stored after a crash could have done
      await client.query(
        `insert into session_events (session_id, seq, t_ms, kind, payload, data) values
         ($1, 1, 0, 'request', '{"text":"one"}', null), ($1, 2, 5, 'term.o', '{"bin":"raw"}', '\\x0102'),
         ($1, 2, 5, 'term.o', '{"bin":"raw"}', '\\x0102'), ($1, 3, 9, 'result', '{"rows":1}', null)`,
        [s],
      );
      await rest();
      const rows = await client.query<{ seq: number; kind: string; data: Uint8Array | null }>("select seq, kind, data from session_events order by seq");
      expect(rows.rows.map((r) => [r.seq, r.kind, r.data ? Buffer.from(r.data).toString("hex") : null])).toEqual([
        [1, "request", null],
        [2, "term.o", "0102"],
        [3, "result", null],
      ]);
      await expect(client.query(`insert into session_events (session_id, seq, t_ms, kind, payload) values ($1, 3, 0, 'x', '{}')`, [s])).rejects.toThrow(/duplicate key/);
    } finally {
      await close();
    }
  });

  it("0008 binds an agent's existing grants to its token, and revokes those it cannot bind", async () => {
    const { client, rest, close } = await migratedUpTo("0007_policy_previews");
    try {
      const u = "00000000-0000-4000-8000-000000000001";
      const c = "00000000-0000-4000-8000-000000000002";
      const agentToken = "00000000-0000-4000-8000-000000000003";
      await client.query(`insert into users (id, email) values ($1, 'dev@example.test')`, [u]);
      await client.query(`insert into connections (id, name, type, upstream) values ($1, 'db', 'postgres', 'postgres://h/db')`, [c]);
      await client.query(`insert into tokens (id, token_hash, user_id, chain, scope_connections, scope_actions, expires_at) values ($1, 'h', $2, '[]', '["*"]', '["*"]', now() + interval '1 hour')`, [agentToken, u]);
      const human = JSON.stringify([{ kind: "user", id: u, name: "dev" }]);
      const agent = (tokenId?: string) => JSON.stringify([{ kind: "user", id: u, name: "dev" }, { kind: "agent", id: "claude", name: "claude", ...(tokenId ? { tokenId } : {}) }]);
      for (const [id, chain] of [[1, human], [2, agent(agentToken)], [3, agent()]] as const) {
        await client.query(`insert into approval_requests (id, kind, binding_hash, connection_id, requester_id, chain, request, approver_groups, expires_at) values ($1, 'access', 'b', $2, $3, $4, '{}', '[]', now())`, [id, c, u, chain]);
        await client.query(`insert into access_grants (user_id, connection_id, request_id, expires_at) values ($1, $2, $3, now() + interval '1 hour')`, [u, c, id]);
      }
      await rest();
      const rows = await client.query<{ request_id: number; actor_token_id: string | null; revoked: boolean }>("select request_id, actor_token_id, revoked_at is not null as revoked from access_grants order by request_id");
      expect(rows.rows).toEqual([
        { request_id: 1, actor_token_id: null, revoked: false },
        { request_id: 2, actor_token_id: agentToken, revoked: false },
        { request_id: 3, actor_token_id: null, revoked: true },
      ]);
    } finally {
      await close();
    }
  });
});
