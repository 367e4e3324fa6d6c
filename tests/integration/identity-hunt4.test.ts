import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addApprover, addConnection, heldApproval, pgUpstream, putPolicies, sessionsOf, type Rec } from "../support/api-fixture";
import { apiCall, login, startGatehouse, teardown, type GatehouseProcess } from "../support/gatehouse";
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
    [pg, gh] = await Promise.all([startPostgres15(), startGatehouse({ demo: false })]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    approver = await addApprover(gh, admin);
    await addConnection(gh, admin, "pg15", pgUpstream(pg));
    await addConnection(gh, admin, "pg15-held", { ...pgUpstream(pg), tags: ["hunt4-held"] });
    const current = await apiCall(gh.url, admin, "GET", "/policies");
    await putPolicies(gh, admin, `${current.body.policy.text}\n@id("hunt4-hold-reads")\n@hold("approvers")\npermit (principal, action == Gatehouse::Action::"read", resource)\nwhen { resource.tags.contains("hunt4-held") };`, "hunt4 held reads");
  }, 120_000);

  afterAll(() => teardown(gh, pg));

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
});
