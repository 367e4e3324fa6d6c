import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addApprover, addConnection, heldApproval, pgUpstream, putPolicies, sessionsOf, type Rec } from "../support/api-fixture";
import { apiCall, exchangeToken, login, startGatehouse, teardown, type GatehouseProcess } from "../support/gatehouse";
import { mcpRunSql, resultText } from "../support/mcp-run-sql";
import { gatewayConninfo, runPsql } from "../support/psql";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Identity hunt, round 4: a Gatehouse token spelt by SQL out of several string constants (`||`,
 * `concat`, E'…' escapes, dollar quoting) is a token all the same. It must reach neither the
 * recording nor an approval request in clear: the real psql through the gateway, the recording
 * read back through the export API, the approval as approvers get it.
 */
const hex = (s: string) => [...s].map((c) => `\\x${c.charCodeAt(0).toString(16)}`).join("");

describe("a Gatehouse token split across SQL string constants", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let admin = "";
  let approver = "";
  const sessions = sessionsOf(() => gh, () => admin, "postgres");

  beforeAll(async () => {
    [pg, gh] = await Promise.all([startPostgres15(), startGatehouse({ demo: false, env: { GATEHOUSE_MCP_MAX_CALLS_PER_USER: "4" } })]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    approver = await addApprover(gh, admin);
    await addConnection(gh, admin, "pg15", pgUpstream(pg));
    await addConnection(gh, admin, "pg15-held", { ...pgUpstream(pg), tags: ["hunt4-held"] });
    const current = await apiCall(gh.url, admin, "GET", "/policies");
    await putPolicies(gh, admin, `${current.body.policy.text}\n@id("hunt4-hold-reads")\n@hold("approvers")\npermit (principal, action == Gatehouse::Action::"read", resource)\nwhen { resource.tags.contains("hunt4-held") };`, "hunt4 held reads");
  }, 120_000);

  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await teardown(gh, pg);
  });

  /** The token in two halves, neither of which the recorder's scrubbing recognises alone. */
  const halves = () => [admin.slice(0, 30), admin.slice(30)] as const;

  it("run through psql, each way of spelling it returns the token to the client and records none of it", async () => {
    const [a, b] = halves();
    const statements = [
      `select '${a}' || '${b}' as t`,
      `select concat('${a}', '${b}') as t`,
      `select E'${hex(a)}' || '${b}' as t`,
      `select $$${a}$$ || $tag$${b}$tag$ as t`,
    ];
    const known = await sessions.ids();
    const run = await runPsql(gatewayConninfo(gh.ports.postgres, "pg15", gh.adminEmail), admin, ["-A", "-t", ...statements.flatMap((s) => ["-c", s])]);
    expect(run.code, run.out).toBe(0);
    // the client asked for its own token and gets it, four times
    expect(run.stdout.trim().split("\n")).toEqual(statements.map(() => admin));
    const id = await sessions.opened(known);
    const events = await sessions.recorded(id);
    const requests = events.filter((e) => e.kind === "request").map((e) => (e.payload as Rec).text as string);
    expect(requests).toHaveLength(4);
    for (const text of requests) expect(text).toContain("'[REDACTED]'");
    const recording = JSON.stringify(events);
    for (const part of [a.slice(3, 30), b.slice(0, 20), b.slice(-20), hex(a).slice(0, 40)]) expect(recording.includes(part), part).toBe(false);
  }, 60_000);

  it("held for approval, the request approvers read carries none of it", async () => {
    const [a, b] = halves();
    const run = runPsql(gatewayConninfo(gh.ports.postgres, "pg15-held", gh.adminEmail), admin, ["-A", "-t", "-c", `select '${a}' || '${b}' as split_token`]);
    const approval = await heldApproval(gh, approver, (x) => x.connection === "pg15-held" && /split_token/.test(x.request?.text ?? ""));
    const seen = JSON.stringify((await apiCall(gh.url, approver, "GET", `/approvals/${approval.id}`)).body);
    expect(seen).toContain("[REDACTED]");
    for (const part of [a.slice(3, 30), b.slice(0, 20)]) expect(seen.includes(part), part).toBe(false);
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${approval.id}/deny`, { reason: "no" })).status).toBe(200);
    expect((await run).out).toMatch(/denied/);
  }, 60_000);

  /**
   * MCP call slots nest (lib/mcp/call-slots.ts): with 4 for the user's agents, an agent's branch
   * holds at most 2 and each of its sub-agents 1. Before, one sub-agent took both of its agent's and
   * its sibling was refused.
   */
  it("MCP: one busy sub-agent cannot starve its sibling sub-agent", async () => {
    const agentA = (await exchangeToken(gh.url, admin, "agent-a")).access_token;
    const [helper1, helper2] = [(await exchangeToken(gh.url, agentA, "helper-1")).access_token, (await exchangeToken(gh.url, agentA, "helper-2")).access_token];
    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const marker = "pg_sleep(5.07)"; // outlasts the second call and the sibling's, under load too
      const sleeping = async () => (await direct`select count(*)::int as n from pg_stat_activity where query like ${`%${marker}%`} and pid <> pg_backend_pid()`)[0].n as number;
      const busy = [mcpRunSql(gh, helper1, clients, "pg15", `select ${marker}`), mcpRunSql(gh, helper1, clients, "pg15", `select ${marker}`)];
      await expect.poll(sleeping, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      const sibling = await mcpRunSql(gh, helper2, clients, "pg15", "select 'sibling ran' as x");
      expect(sibling.isError, resultText(sibling)).toBeFalsy();
      expect(resultText(sibling)).toContain("sibling ran");
      const [first, second] = await Promise.all(busy);
      const refused = [first, second].filter((r) => r.isError).map(resultText);
      expect(refused).toEqual([expect.stringMatching(/^UNAVAILABLE: 1 calls of sub-agent helper-1 \(with the agents it spawned\) are already running, its share of agent agent-a's/)]);
    } finally {
      await direct.end({ timeout: 1 });
    }
  }, 60_000);
});
