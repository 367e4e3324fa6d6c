import { describe, expect, it } from "vitest";
import { migratedUpTo } from "../tests/support/migrations-at";

describe("0010: approval evidence outlives its connection", () => {
  it("names existing requests and grants after their connection, and keeps them when it is deleted", async () => {
    const { client, rest, close } = await migratedUpTo("0008_access_grant_actor");
    try {
      const u = "00000000-0000-4000-8000-000000000001";
      const c = "00000000-0000-4000-8000-000000000002";
      await client.query(`insert into users (id, email) values ($1, 'dev@example.test'), ('00000000-0000-4000-8000-000000000009', 'dba@example.test')`, [u]);
      await client.query(`insert into connections (id, name, type, upstream) values ($1, 'orders', 'postgres', 'postgres://h/orders')`, [c]);
      await client.query(`insert into approval_requests (id, kind, binding_hash, connection_id, requester_id, chain, request, approver_groups, status, expires_at) values (1, 'access', 'b', $1, $2, '[]', '{}', '["dba"]', 'approved', now())`, [c, u]);
      await client.query(`insert into approval_decisions (request_id, approver_id, decision) values (1, '00000000-0000-4000-8000-000000000009', 'approve')`);
      await client.query(`insert into access_grants (user_id, connection_id, request_id, expires_at) values ($1, $2, 1, now() + interval '1 hour')`, [u, c]);
      await rest();
      expect((await client.query("select connection_name from approval_requests")).rows).toEqual([{ connection_name: "orders" }]);
      expect((await client.query("select connection_name from access_grants")).rows).toEqual([{ connection_name: "orders" }]);
      await client.query("delete from connections");
      expect((await client.query("select id, connection_id, connection_name from approval_requests")).rows).toEqual([{ id: 1, connection_id: null, connection_name: "orders" }]);
      expect((await client.query("select count(*)::int as n from approval_decisions")).rows).toEqual([{ n: 1 }]);
      expect((await client.query("select connection_id, connection_name, request_id from access_grants")).rows).toEqual([{ connection_id: null, connection_name: "orders", request_id: 1 }]);
    } finally {
      await close();
    }
  });
});
