import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApprovalRequest } from "@/lib/services/approvals/create";
import { decideApproval } from "@/lib/services/approvals/decide";
import { approvalsFixture, principalOf, statement, type ApprovalsFixture } from "@/lib/services/approvals/test-fixtures";
import { bindingOfRequest } from "./hold";
import { notifyApproval, redactLiterals, webhookBody, type ApprovalSummary } from "./notify";

/** Webhooks against a real local HTTP server: both events arrive, carry no secrets, never block. */
let fx: ApprovalsFixture;
let server: http.Server;
let hook = "";
const received: { body: Record<string, any>; contentType?: string }[] = [];
let hang = false;

beforeAll(async () => {
  fx = await approvalsFixture();
  server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => {
      received.push({ body: JSON.parse(data), contentType: req.headers["content-type"] });
      if (!hang) res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await fx?.handle.close();
});
afterEach(() => {
  delete process.env.GATEHOUSE_APPROVAL_WEBHOOK_URL;
  delete process.env.GATEHOUSE_APPROVAL_WEBHOOK_FORMAT;
  received.length = 0;
  hang = false;
});

async function until<T>(fn: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const SECRET_TEXT = "UPDATE users SET password = 'hunter2-secret' WHERE email = $1";

async function heldRequest() {
  const req = statement(principalOf(fx.people.alice, ["claude"]), fx.conn, SECRET_TEXT, ["victim@example.test"]);
  return createApprovalRequest(fx.db, {
    kind: "statement",
    bindingHash: bindingOfRequest(req),
    connection: fx.conn,
    requester: { userId: fx.people.alice.id, email: fx.people.alice.email },
    chain: req.principal.chain,
    request: { action: "write", text: SECRET_TEXT, params: req.request.params },
    approverGroups: ["approvers"],
    minApprovals: 1,
  });
}

describe("approval webhooks", () => {
  it("posts generic JSON on creation and on decision, without parameters or literal values", async () => {
    process.env.GATEHOUSE_APPROVAL_WEBHOOK_URL = hook;
    const { id, url } = await heldRequest();
    const created = await until(() => received.find((r) => r.body.event === "approval.created"));
    expect(created.contentType).toBe("application/json");
    expect(created.body).toMatchObject({
      event: "approval.created",
      url,
      approval: { id, status: "pending", connection: "billing-db", requester: fx.people.alice.email, chain: [fx.people.alice.email, "claude"], approverGroups: ["approvers"], minApprovals: 1, approvals: 0 },
    });
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve", comment: "ok" });
    const decided = await until(() => received.find((r) => r.body.event === "approval.decided"));
    expect(decided.body.approval).toMatchObject({ id, status: "approved", approvals: 1, decision: { by: fx.people.bob.email, decision: "approve", comment: "ok" } });
    const all = JSON.stringify(received);
    expect(all).not.toContain("hunter2-secret");
    expect(all).not.toContain("victim@example.test");
    expect(created.body.approval.text).toBe("UPDATE users SET password = '…' WHERE email = $1");
  });

  it("posts Slack-compatible {text, blocks}", async () => {
    process.env.GATEHOUSE_APPROVAL_WEBHOOK_URL = hook;
    process.env.GATEHOUSE_APPROVAL_WEBHOOK_FORMAT = "slack";
    const { id, url } = await heldRequest();
    const msg = await until(() => received[0]);
    expect(msg.body.text).toContain(`Approval #${id} requested by`);
    expect(msg.body.text).toContain(url);
    expect(msg.body.blocks[0]).toMatchObject({ type: "section", text: { type: "mrkdwn" } });
    expect(JSON.stringify(msg.body)).not.toContain("hunter2-secret");
  });

  it("never blocks: a webhook that hangs does not delay the request, a dead one only logs", async () => {
    hang = true;
    process.env.GATEHOUSE_APPROVAL_WEBHOOK_URL = hook;
    const t0 = Date.now();
    await heldRequest();
    // not held up by the hanging webhook (whose timeout is 5 s)
    expect(Date.now() - t0).toBeLessThan(4000);
    await until(() => received[0]);

    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    process.env.GATEHOUSE_APPROVAL_WEBHOOK_URL = "http://127.0.0.1:1/refused";
    await expect(notifyApproval("approval.created", summary(), "http://x/approvals/1")).resolves.toBeUndefined();
    expect(warn.mock.calls.flat().join(" ")).toMatch(/webhook for approval.created #1 failed/);
    expect(warn.mock.calls.flat().join(" ")).not.toContain("127.0.0.1:1");
    warn.mockRestore();
  });
});

describe("redactLiterals", () => {
  it("hides quoted and dollar-quoted values, keeps the shape", () => {
    expect(redactLiterals("SELECT 'a''b', \"x\", $$s e c$$, $t$ x $t$ FROM t")).toBe("SELECT '…', \"…\", $$…$$, $t$…$t$ FROM t");
    expect(redactLiterals("SELECT E'it\\'s secret' , 1")).toBe("SELECT E'…' , 1");
    expect(redactLiterals("SELECT 'unterminated secret")).toBe("SELECT '…'");
  });

  it("clips long text and escapes Slack markup", () => {
    const body = webhookBody("slack", "approval.created", { ...summary(), connection: "<!channel>", text: "SELECT 1 ".repeat(100) }, "http://x") as { blocks: { text?: { text: string } }[] };
    expect(body.blocks[0].text!.text).toContain("&lt;!channel&gt;");
    const json = webhookBody("json", "approval.created", { ...summary(), text: "SELECT 1 ".repeat(100) }, "http://x") as { approval: { text: string } };
    expect(json.approval.text.length).toBeLessThanOrEqual(301);
  });
});

function summary(): ApprovalSummary {
  return { id: 1, kind: "statement", status: "pending", connection: "c", requester: "a@x", chain: ["a@x"], action: "write", text: "SELECT 1", reason: "", approverGroups: ["approvers"], minApprovals: 1, approvals: 0, expiresAt: new Date().toISOString() };
}
