import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonOf, runCli, type Run } from "../support/cli";
import { apiCall, type GatehouseProcess, login, ROOT, startGatehouse, teardown } from "../support/gatehouse";

/**
 * The policy, masking and approval commands of the `gatehouse` CLI, run as users run them
 * (`node bin/gatehouse.mjs ...`, own HOME) against a real server started with the demo
 * database. Every assertion checks an outcome the server reports (the saved text, the verdict,
 * the masked output, the approval's status and grant), not just that something was printed.
 */


const MEMBER = { email: "member@example.test", password: "member-password-1" };
const APPROVER = { email: "approver@example.test", password: "approver-password-1" };

type As = (args: string[], opts?: { input?: string }) => Promise<Run>;

describe("gatehouse CLI: policies, masking, approvals", () => {
  let gh: GatehouseProcess;
  let adminToken: string;
  let memberToken: string;
  let home: string;
  let tmp: string;
  let admin: As;
  let member: As;
  let approver: As;

  beforeAll(async () => {
    gh = await startGatehouse();
    adminToken = await login(gh.url, gh.adminEmail, gh.adminPassword);
    home = fs.mkdtempSync(path.join(os.tmpdir(), "gh-cli-engine-home-"));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-cli-engine-files-"));
    const as = (token: string): As => (args, opts = {}) => runCli(args, { ...opts, env: { HOME: home, GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: token } });

    const prod = await apiCall(gh.url, adminToken, "POST", "/connections", { name: "prod-db", type: "postgres", upstream: "postgres://127.0.0.1:1/app", tags: ["prod"] });
    expect(prod.status, JSON.stringify(prod.body)).toBe(200);
    for (const [u, role, groups] of [
      [MEMBER, "member", []],
      [APPROVER, "approver", ["approvers"]],
    ] as const) {
      const r = await apiCall(gh.url, adminToken, "POST", "/users", { email: u.email, password: u.password, role, groups });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    memberToken = await login(gh.url, MEMBER.email, MEMBER.password);
    admin = as(adminToken);
    member = as(memberToken);
    approver = as(await login(gh.url, APPROVER.email, APPROVER.password));
  });

  afterAll(async () => {
    await teardown(gh);
    for (const dir of [home, tmp]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("lists the new groups in help and rejects bad usage with exit 2 before any request", async () => {
    const top = await runCli(["help"], { env: { HOME: home } });
    for (const group of ["policies", "masking", "approvals", "access"]) expect(top.stdout).toContain(group);
    expect((await runCli(["approvals", "--help"], { env: { HOME: home } })).stdout).toMatch(/gatehouse approvals approve ID \[--window 1h\]/);
    const cases = [
      ["policies", "rollback", "latest"],
      ["policies", "get", "--version", "0"],
      ["policies", "test", "--connection", "demo-postgres"], // no --principal
      ["policies", "test", "--principal", "a@b.test", "--connection", "c", "--statement", "select 1", "--action", "read"],
      ["policies", "test", "--principal", "a@b.test", "--connection", "c", "--kind", "sideways"],
      ["masking", "add", "--detectors", "ssn"], // no --name
      ["masking", "add", "--name", "x"], // nothing to mask
      ["masking", "add", "--name", "x", "--detectors", "ssn", "--style", "blur"],
      ["masking", "test"],
      ["approvals", "deny", "3"], // no --reason
      ["approvals", "approve", "abc"],
      ["approvals", "list", "--status", "maybe"],
      ["access", "request", "prod-db", "--reason", "r"], // no --duration
      ["access", "request", "prod-db", "--duration", "soon", "--reason", "r"],
    ];
    for (const args of cases) {
      const r = await runCli([...args, "--json"], { env: { HOME: home, GATEHOUSE_URL: "http://127.0.0.1:9", GATEHOUSE_TOKEN: "x" } });
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout, args.join(" ")).toBe("");
      expect(jsonOf(r.stderr).error.code, args.join(" ")).toBe("USAGE");
    }
  });

  describe("policies", () => {
    it("get prints the shipped default policy text; --json gives the API object", async () => {
      const r = await admin(["policies", "get"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("permit");
      expect(r.stdout).toContain('@id("prod-write-approval")');
      expect(r.stderr).toMatch(/# policy version \d+/);
      const j = await admin(["policies", "get", "--json"]);
      const body = jsonOf(j.stdout);
      expect([body.policy.text, `${body.policy.text}\n`]).toContain(r.stdout);
      expect(body.policy.version).toBeGreaterThanOrEqual(1);
    });

    it("apply refuses an invalid file with its line number and saves nothing", async () => {
      const before = (await apiCall(gh.url, adminToken, "GET", "/policies")).body.policy.version;
      const bad = path.join(tmp, "bad.cedar");
      fs.writeFileSync(bad, `@id("ok")\npermit (principal, action, resource);\n\n@id("broken")\npermit (principal, action == Gatehouse::Action::"read", resource)\nwhen { resource.nonexistent_attribute == 1 };\n`);
      const r = await admin(["policies", "apply", bad]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+(:\\d+)?: error: `));
      expect(r.stderr).toMatch(/does not validate .*line \d+.*nothing was applied/);

      const syntax = path.join(tmp, "syntax.cedar");
      fs.writeFileSync(syntax, `permit (principal, action, resource);\n\npermit (principal, action resource);\n`);
      const j = await admin(["policies", "apply", syntax, "--json"]);
      expect(j.code).toBe(1);
      const result = jsonOf(j.stdout);
      expect(result.ok).toBe(false);
      expect(result.errors[0].line).toBe(3);
      expect(jsonOf(j.stderr).error).toMatchObject({ code: "INVALID", message: expect.stringMatching(/line 3/) });
      expect(j.stdout).not.toBe("");

      expect((await apiCall(gh.url, adminToken, "GET", "/policies")).body.policy.version).toBe(before);
    });

    it("apply --dry-run lists the live sessions the file would end and saves nothing", async () => {
      const current = (await apiCall(gh.url, adminToken, "GET", "/policies")).body.policy as { version: number; text: string };
      const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: gh.adminEmail, password: adminToken, ssl: false, max: 1, onnotice: () => {} });
      try {
        await sql`select 1`;
        const file = path.join(tmp, "close-demo.cedar");
        fs.writeFileSync(file, `${current.text}\n@id("cli-close-demo")\n@reason("demo closed for the CLI test")\nforbid (principal, action == Gatehouse::Action::"connect", resource)\nwhen { resource.name == "demo-postgres" };\n`);
        const r = await admin(["policies", "apply", file, "--dry-run"]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain("validates");
        expect(r.stdout).toContain("nothing was applied");
        expect(r.stdout).toMatch(new RegExp(`ends 1 live session\\(s\\) or what runs in them:\\n +[0-9a-f-]{36}  ${gh.adminEmail.replace(/[.]/g, "\\.")} on demo-postgres \\(postgres\\): session -- demo closed for the CLI test`));
        const j = jsonOf((await admin(["policies", "apply", file, "--dry-run", "--json"])).stdout);
        expect(j.impact.items).toEqual([expect.objectContaining({ connection: "demo-postgres", what: "session", reason: "demo closed for the CLI test" })]);
        expect((await apiCall(gh.url, adminToken, "GET", "/policies")).body.policy.version).toBe(current.version);
        expect(await sql`select 2 as two`).toEqual([{ two: 2 }]);
      } finally {
        await sql.end({ timeout: 1 });
      }
    });

    it("apply saves a new version, versions lists it, rollback restores the previous text", async () => {
      const current = (await apiCall(gh.url, adminToken, "GET", "/policies")).body.policy as { version: number; text: string };
      const file = path.join(tmp, "modified.cedar");
      const extra = `\n@id("cli-test-no-exec")\n@reason("no exec on test hosts")\nforbid (principal, action == Gatehouse::Action::"exec", resource)\nwhen { resource.tags.contains("cli-test-never") };\n`;
      fs.writeFileSync(file, current.text + extra);

      const r = await admin(["policies", "apply", file, "--comment", "add cli-test-no-exec"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`as policy version ${current.version + 1}\\b`));
      const saved = (await apiCall(gh.url, adminToken, "GET", "/policies")).body.policy;
      expect(saved.version).toBe(current.version + 1);
      expect(saved.text).toBe(current.text + extra);
      expect(saved.comment).toBe("add cli-test-no-exec");

      const versions = await admin(["policies", "versions", "--json"]);
      expect(jsonOf(versions.stdout).versions[0]).toMatchObject({ version: current.version + 1, comment: "add cli-test-no-exec", authorEmail: gh.adminEmail });
      const table = await admin(["policies", "versions"]);
      expect(table.stdout).toMatch(new RegExp(`^${current.version + 1} \\(current\\)\\s.*add cli-test-no-exec$`, "m"));
      const old = await admin(["policies", "get", "--version", String(current.version)]);
      expect(old.stdout).not.toContain("cli-test-no-exec");
      expect((await admin(["policies", "get"])).stdout).toContain("cli-test-no-exec");

      const rb = await admin(["policies", "rollback", String(current.version), "--json"]);
      expect(rb.code, rb.stderr).toBe(0);
      expect(jsonOf(rb.stdout).version).toBe(current.version + 2);
      const after = (await apiCall(gh.url, adminToken, "GET", "/policies")).body.policy;
      expect(after.version).toBe(current.version + 2);
      expect(after.text).toBe(current.text);
      expect((await admin(["policies", "get"])).stdout).not.toContain("cli-test-no-exec");
      expect((await admin(["policies", "rollback", "9999", "--json"])).stderr).toMatch(/NOT_FOUND/);
    });

    it("test: a write on a prod connection is held, a SELECT is allowed for a user and masked for an agent", async () => {
      const hold = await admin(["policies", "test", "--principal", gh.adminEmail, "--connection", "prod-db", "--statement", "UPDATE orders SET status = 'x' WHERE id = 1"]);
      expect(hold.code, hold.stderr).toBe(0);
      expect(hold.stdout).toMatch(/^verdict:\s+hold$/m);
      expect(hold.stdout).toMatch(/^approval:\s+1 approval from approvers$/m);
      expect(hold.stdout).toMatch(/prod-write-approval/);
      const holdJson = jsonOf((await admin(["policies", "test", "--principal", gh.adminEmail, "--connection", "prod-db", "--action", "write", "--kind", "write", "--json"])).stdout);
      expect(holdJson.simulation.verdict).toMatchObject({ type: "hold", requirement: { approverGroups: ["approvers"], minApprovals: 1 } });

      const allow = await admin(["policies", "test", "--principal", gh.adminEmail, "--connection", "demo-postgres", "--statement", "SELECT * FROM customers"]);
      expect(allow.code, allow.stderr).toBe(0);
      expect(allow.stdout).toMatch(/^verdict:\s+allow$/m);
      expect(allow.stdout).toMatch(/people-read/);

      const mask = await admin(["policies", "test", "--principal", gh.adminEmail, "--connection", "demo-postgres", "--statement", "SELECT * FROM customers", "--agents", "bot", "--json"]);
      expect(mask.code, mask.stderr).toBe(0);
      const m = jsonOf(mask.stdout);
      expect(m.simulation.verdict).toMatchObject({ type: "mask", ruleSets: ["pii"] });
      expect(m.request).toMatchObject({ action: "read", kind: "read" });
      expect((await admin(["policies", "test", "--principal", gh.adminEmail, "--connection", "demo-postgres", "--statement", "SELECT 1", "--agents", "bot"])).stdout).toMatch(/^masking:\s+pii$/m);

      // A deny is an answer, not a failure: still exit 0.
      const deny = await admin(["policies", "test", "--principal", gh.adminEmail, "--connection", "demo-postgres", "--statement", "SELECT 1", "--agents", "a,b,c,d"]);
      expect(deny.code, deny.stderr).toBe(0);
      expect(deny.stdout).toMatch(/^verdict:\s+deny$/m);

      const missing = await admin(["policies", "test", "--principal", "nobody@example.test", "--connection", "demo-postgres", "--json"]);
      expect(missing.code).toBe(1);
      expect(jsonOf(missing.stderr).error.code).toBe("NOT_FOUND");
    });
  });

  describe("masking", () => {
    const SAMPLE = "ssn 123-45-6789, card 4111 1111 1111 1111, mail jane@corp.example";

    it("add / list / test / rm round-trip; the masked output never contains the original values", async () => {
      const add = await admin(["masking", "add", "--name", "cli-ids", "--detectors", "ssn,card", "--style", "partial", "--keep-last", "4", "--set", "cli-test"]);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stdout).toMatch(/added masking rule cli-ids/);
      const add2 = await admin(["masking", "add", "--name", "cli-col", "--columns", "users.secret_note", "--set", "cli-test", "--json"]);
      expect(add2.code, add2.stderr).toBe(0);
      expect(jsonOf(add2.stdout).rule.name).toBe("cli-col");
      // --regex repeats; a rule without --columns applies its patterns anywhere in the text.
      const add3 = await admin(["masking", "add", "--name", "cli-regex", "--set", "cli-test", "--regex", "TICKET-\\d+", "--regex", "REF-[A-Z]+", "--style", "hash"]);
      expect(add3.code, add3.stderr).toBe(0);
      const dup = await admin(["masking", "add", "--name", "cli-ids", "--detectors", "ssn", "--json"]);
      expect(dup.code).toBe(1);
      expect(jsonOf(dup.stderr).error.code).toBe("CONFLICT");

      const list = await admin(["masking", "list", "--json"]);
      const rules = jsonOf(list.stdout).rules as { name: string; ruleSet: string; definition: Record<string, unknown> }[];
      expect(rules.find((r) => r.name === "cli-ids")).toMatchObject({ ruleSet: "cli-test", definition: { detectors: ["ssn", "card"], style: "partial", keepLast: 4 } });
      expect(rules.find((r) => r.name === "cli-col")).toMatchObject({ definition: { columns: ["users.secret_note"], style: "redact" } });
      expect(rules.find((r) => r.name === "cli-regex")).toMatchObject({ definition: { style: "hash", regexes: ["TICKET-\\d+", "REF-[A-Z]+"] } });
      expect((await admin(["masking", "list"])).stdout).toMatch(/^cli-ids\s+cli-test\s+partial\(4\)/m);

      const t = await admin(["masking", "test", "--text", SAMPLE, "--sets", "cli-test"]);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).not.toContain("123-45-6789");
      expect(t.stdout).not.toContain("4111 1111 1111 1111");
      expect(t.stdout).toContain("6789"); // partial keeps the last four
      expect(t.stdout).toContain("jane@corp.example"); // email is not in this set
      expect(t.stdout.trim().split("\n")).toHaveLength(1);
      const viaStdin = await admin(["masking", "test", "--text", "-", "--sets", "cli-test", "--json"], { input: `${SAMPLE}\n` });
      expect(jsonOf(viaStdin.stdout).masked).toBe(t.stdout.trimEnd());
      const regex = await admin(["masking", "test", "--text", "see TICKET-42 and REF-ABC", "--sets", "cli-test"]);
      expect(regex.stdout).not.toMatch(/TICKET-42|REF-ABC/);
      const column = await admin(["masking", "test", "--text", "the butler did it", "--sets", "cli-test", "--column", "users.secret_note", "--json"]);
      expect(jsonOf(column.stdout).masked).not.toContain("butler");
      const pii = await admin(["masking", "test", "--text", SAMPLE, "--sets", "pii"]);
      expect(pii.stdout).not.toMatch(/123-45-6789|4111 1111 1111 1111|jane@corp\.example/);

      for (const name of ["cli-ids", "cli-col", "cli-regex"]) {
        const rm = await admin(["masking", "rm", name]);
        expect(rm.code, rm.stderr).toBe(0);
        expect(rm.stdout).toContain(`removed masking rule ${name}`);
      }
      expect((jsonOf((await admin(["masking", "list", "--json"])).stdout).rules as { name: string }[]).map((r) => r.name)).not.toContain("cli-ids");
      expect((await admin(["masking", "list"])).stdout).not.toMatch(/cli-(ids|col|regex)/);
      // With its rules gone, the set masks nothing.
      expect((await admin(["masking", "test", "--text", SAMPLE, "--sets", "cli-test"])).stdout.trimEnd()).toBe(SAMPLE);
      const again = await admin(["masking", "rm", "cli-ids", "--json"]);
      expect(again.code).toBe(1);
      expect(jsonOf(again.stderr).error.code).toBe("NOT_FOUND");
    });

    it("detectors lists names and descriptions; a member may read but not write rules", async () => {
      const d = await member(["masking", "detectors"]);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stdout).toMatch(/^ssn\s+pii\s+\S/m);
      expect(d.stdout).toMatch(/^card\s+financial\s+.*Luhn/m);
      const w = await member(["masking", "add", "--name", "nope", "--detectors", "ssn", "--json"]);
      expect(w.code).toBe(1);
      expect(jsonOf(w.stderr).error.code).toBe("FORBIDDEN");
      const badDetector = await admin(["masking", "add", "--name", "nope", "--detectors", "ssn,retina", "--json"]);
      expect(badDetector.code).toBe(1);
      expect(jsonOf(badDetector.stderr).error.code).toBe("INVALID");
    });
  });

  describe("approvals and just-in-time access", () => {
    it("a member requests access, an approver lists and approves it, the member's wait returns approved and the grant lifts the hold", async () => {
      const before = jsonOf((await admin(["policies", "test", "--principal", MEMBER.email, "--connection", "prod-db", "--statement", "DELETE FROM orders WHERE id = 1", "--json"])).stdout);
      expect(before.simulation.verdict.type).toBe("hold");

      const req = await member(["access", "request", "prod-db", "--duration", "1h", "--reason", "fix order 1", "--wait", "0", "--json"]);
      expect(req.code, req.stderr).toBe(0);
      const requested = jsonOf(req.stdout);
      expect(requested).toMatchObject({ status: "pending", approval: { kind: "access", connection: "prod-db", requester: MEMBER.email, reason: "fix order 1", durationSeconds: 3600 } });
      const id = String(requested.approval.id);

      const notYet = await member(["approvals", "wait", id, "--timeout", "0", "--json"]);
      expect(notYet.code).toBe(1);
      expect(jsonOf(notYet.stdout).status).toBe("pending");
      expect(jsonOf(notYet.stderr).error.code).toBe("TIMEOUT");

      const queue = await approver(["approvals", "list"]);
      expect(queue.code, queue.stderr).toBe(0);
      expect(queue.stdout).toMatch(new RegExp(`^${id}\\s+pending\\s+prod-db\\s+${MEMBER.email}\\s+0/1 approvers\\s.*access for 1h$`, "m"));
      const mine = jsonOf((await approver(["approvals", "list", "--mine", "--json"])).stdout).approvals as { id: number }[];
      expect(mine.map((a) => String(a.id))).toContain(id);
      const shown = await approver(["approvals", "show", id]);
      expect(shown.stdout).toMatch(/^reason:\s+fix order 1$/m);

      const forbidden = await member(["approvals", "approve", id, "--json"]);
      expect(forbidden.code).toBe(1);
      expect(jsonOf(forbidden.stderr).error.code).toBe("FORBIDDEN");
      const forbiddenHuman = await member(["approvals", "approve", id]);
      expect(forbiddenHuman.code).toBe(1);
      expect(forbiddenHuman.stderr).toMatch(/not allowed/);

      // The member is already waiting when the approver decides: the long-poll returns the answer.
      const waiting = member(["approvals", "wait", id, "--timeout", "45", "--json"]);
      await new Promise((r) => setTimeout(r, 1000));
      const ok = await approver(["approvals", "approve", id, "--comment", "go ahead"]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(new RegExp(`approved #${id} \\(now approved\\); access granted until`));
      const waited = await waiting;
      expect(waited.code, waited.stderr).toBe(0);
      const w = jsonOf(waited.stdout);
      expect(w).toMatchObject({ status: "approved", decided: true, approval: { decisions: [{ approver: APPROVER.email, decision: "approve", comment: "go ahead" }] } });
      expect(w.approval.grant).toMatchObject({ requestId: Number(id) });

      // The outcome on the server: the member now holds an active grant, and a prod write is no longer held.
      const grants = jsonOf((await member(["access", "grants", "--active", "--json"])).stdout).grants as { connection: string; active: boolean; requestId: number }[];
      expect(grants).toContainEqual(expect.objectContaining({ connection: "prod-db", active: true, requestId: Number(id) }));
      const after = jsonOf((await admin(["policies", "test", "--principal", MEMBER.email, "--connection", "prod-db", "--statement", "DELETE FROM orders WHERE id = 1", "--json"])).stdout);
      expect(after.simulation.verdict.type).toBe("allow");

      const twice = await approver(["approvals", "approve", id, "--json"]);
      expect(twice.code).toBe(1);
      expect(jsonOf(twice.stderr).error.code).toBe("CONFLICT");
    });

    it("deny with a reason: the requester's wait exits 1 and sees the reason", async () => {
      const req = jsonOf((await member(["access", "request", "demo-postgres", "--duration", "30m", "--reason", "curious", "--json"])).stdout);
      const id = String(req.approval.id);
      const denied = await approver(["approvals", "deny", id, "--reason", "not without a ticket"]);
      expect(denied.code, denied.stderr).toBe(0);
      expect(denied.stdout).toMatch(new RegExp(`denied #${id} \\(now denied\\)`));

      const w = await member(["approvals", "wait", id]);
      expect(w.code).toBe(1);
      expect(w.stdout).toMatch(/^status:\s+denied$/m);
      expect(w.stderr).toMatch(new RegExp(`approval #${id} was denied: not without a ticket`));
      const shown = jsonOf((await member(["approvals", "show", id, "--json"])).stdout).approval;
      expect(shown).toMatchObject({ status: "denied", decisions: [{ approver: APPROVER.email, decision: "deny", comment: "not without a ticket" }], grant: null });
      expect(jsonOf((await member(["approvals", "list", "--status", "decided", "--json"])).stdout).approvals.map((a: { id: number }) => String(a.id))).toContain(id);
      const grants = jsonOf((await member(["access", "grants", "--json"])).stdout).grants as { requestId: number }[];
      expect(grants.map((g) => String(g.requestId))).not.toContain(id);
    });

    it("access request --wait returns the decision in one call", async () => {
      const pending = member(["access", "request", "demo-postgres", "--duration", "10m", "--reason", "quick look", "--wait", "40", "--json"]);
      let id: string | undefined;
      for (let i = 0; i < 40 && !id; i++) {
        await new Promise((r) => setTimeout(r, 250));
        const q = jsonOf((await approver(["approvals", "list", "--mine", "--json"])).stdout).approvals as { id: number; reason: string }[];
        id = q.find((a) => a.reason === "quick look")?.id.toString();
      }
      expect(id).toBeDefined();
      expect((await approver(["approvals", "approve", id!])).code).toBe(0);
      const r = await pending;
      expect(r.code, r.stderr).toBe(0);
      expect(jsonOf(r.stdout)).toMatchObject({ status: "approved", approval: { id: Number(id) }, grant: { requestId: Number(id) } });
    });
  });
});
