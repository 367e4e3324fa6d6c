import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres } from "@/db/client";
import { getApproval, listApprovals } from "@/db/queries/approvals";
import { bindingOfRequest, holdForApproval } from "@/lib/gateway/approvals/hold";
import { startPostgres15, type Postgres15 } from "@/tests/support/postgres";
import { consumeApproval } from "./consume";
import { createApprovalRequest } from "./create";
import { decideApproval } from "./decide";
import { approvalsFixture, principalOf, statement, type ApprovalsFixture } from "./test-fixtures";

/**
 * The same rules on a real PostgreSQL 15 with a connection pool, where transactions really run
 * concurrently: racing approvers and racing consumers are where row locks and conditional
 * UPDATEs earn their keep (PGlite serializes everything and cannot show it). `npm test`
 * installs PostgreSQL 15 when it is missing, so this never silently skips.
 */
describe("approvals on PostgreSQL 15", () => {
  let pg: Postgres15;
  let fx: ApprovalsFixture;
  beforeAll(async () => {
    pg = await startPostgres15();
    fx = await approvalsFixture(await openPostgres(pg.url));
  });
  afterAll(async () => {
    await fx?.handle.close();
    await pg?.stop();
  });

  async function pending(min: number, text = `UPDATE t SET x = ${Math.random()}`) {
    const principal = principalOf(fx.people.alice);
    const req = statement(principal, fx.conn, text);
    const created = await createApprovalRequest(fx.db, {
      kind: "statement",
      bindingHash: bindingOfRequest(req),
      connection: fx.conn,
      requester: { userId: principal.userId, email: principal.email },
      chain: principal.chain,
      request: { action: "write", text },
      approverGroups: ["approvers"],
      minApprovals: min,
    });
    return { ...created, hash: bindingOfRequest(req) };
  }

  it("two approvers of a 2-of-N request deciding at the same moment approve it (no lost vote)", async () => {
    for (let round = 0; round < 5; round++) {
      const { id } = await pending(2);
      const results = await Promise.all([
        decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" }),
        decideApproval(fx.db, fx.people.carol.caller, id, { decision: "approve" }),
      ]);
      expect(results.map((r) => r.approval.status).sort()).toEqual(["approved", "pending"]);
      expect((await getApproval(fx.db, id))!.status).toBe("approved");
    }
  });

  it("the same approver racing with itself is counted once", async () => {
    const { id } = await pending(2);
    const results = await Promise.allSettled([1, 2, 3].map(() => decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((await getApproval(fx.db, id))!).toMatchObject({ status: "pending", approvals: 1 });
  });

  it("racing consumers of one approval: exactly one wins", async () => {
    const { id, hash } = await pending(1);
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" });
    const actor = { userId: fx.people.alice.id, email: fx.people.alice.email };
    const results = await Promise.all(Array.from({ length: 8 }, () => consumeApproval(fx.db, { id, bindingHash: hash, actor })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it("hold → approve resumes, and the approver queue query works on PostgreSQL", async () => {
    let created!: (id: number) => void;
    const idP = new Promise<number>((r) => (created = r));
    const outcome = holdForApproval(fx.db, { request: statement(principalOf(fx.people.alice, ["claude"]), fx.conn, "DELETE FROM t"), requirement: { approverGroups: ["approvers"], minApprovals: 1 }, onCreated: (a) => created(a.id) }, { timeoutMs: 10_000 });
    const id = await idP;
    const queue = await listApprovals(fx.db, { status: "pending", mineToDecide: { userId: fx.people.bob.id, groups: ["approvers", "x'y"] } });
    expect(queue.map((r) => r.id)).toContain(id);
    const aliceQueue = await listApprovals(fx.db, { status: "pending", mineToDecide: { userId: fx.people.alice.id, groups: ["approvers"] } });
    expect(aliceQueue.map((r) => r.id)).not.toContain(id);
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" });
    expect(await outcome).toEqual({ status: "approved", approvalId: id, via: "request" });
  });
});
