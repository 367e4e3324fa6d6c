import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { sshExec } from "../support/ssh-client";
import { SSH_TEST_USER, startSshd, type Sshd } from "../support/sshd";
import { addApprover, addMaskingRule, addUser, heldApproval } from "../support/api-fixture";


/** The default policies, plus terminal masking (rule set "mcpssh") on connection box-masked. */
const MASK_POLICY = `
@id("mask-box-masked")
@mask("mcpssh")
permit (principal, action == Gatehouse::Action::"exec", resource)
when { resource.name == "box-masked" };
`;

type Json = Record<string, any>;

/**
 * MCP `run_ssh_command` end to end: the SDK's own client over Streamable HTTP, a real Gatehouse
 * process (production build), a real OpenSSH sshd upstream. Checks what the agent got back AND
 * what was recorded, and compares the recording with the same command run by a native `ssh`.
 */
describe("MCP run_ssh_command", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const t = { admin: "", dev: "", approver: "", agent: "" };
  const clients: Client[] = [];

  async function mcp(token: string) {
    const client = new Client({ name: "mcp-ssh-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }
  const call = (c: Client, args: Json, name = "run_ssh_command") => c.callTool({ name, arguments: args }, undefined, { timeout: 90_000 }) as Promise<CallToolResult>;
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  const outputOf = (r: CallToolResult) => JSON.parse(text(r).replace(/^[^{]*/, "")) as Json;

  async function latestSession(filter: string): Promise<Json> {
    const res = await apiCall(gh.url, t.admin, "GET", `/sessions?${filter}`);
    return (res.body.sessions as Json[])[0];
  }
  async function eventsOf(id: string): Promise<Json[]> {
    const res = await fetch(`${gh.url}/api/v1/sessions/${id}/export?format=jsonl`, { headers: { authorization: `Bearer ${t.admin}` } });
    return (await res.text()).trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.kind !== "session");
  }
  const termText = (events: Json[], err: boolean) => events.filter((e) => e.kind === "term.o" && !!e.payload.err === err).map((e) => e.payload.d).join("");

  const pendingApproval = async (textIs: string): Promise<number> => (await heldApproval(gh, t.approver, textIs)).id;

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    t.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    t.dev = await addUser(gh, t.admin, "dev@example.test");
    t.approver = await addApprover(gh, t.admin);
    t.agent = (await exchangeToken(gh.url, t.dev, "claude")).access_token;

    const upstream = `ssh://127.0.0.1:${sshd.port}`;
    for (const [name, extra] of [
      ["box", { secret: sshd.password }],
      ["box-masked", { secret: sshd.privateKeyPem, options: { hostKey: sshd.hostKeyFingerprint } }],
      ["dead", { upstream: "ssh://127.0.0.1:1", secret: "x" }],
    ] as const) {
      const r = await apiCall(gh.url, t.admin, "POST", "/connections", { name, type: "ssh", upstream, username: sshd.user, tags: ["staging"], ...extra });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    // A terminal-only rule: it masks run_ssh_command output only if that output is treated as terminal output.
    await addMaskingRule(gh, t.admin, { name: "mcp-ssh-secrets", ruleSet: "mcpssh", regexes: ["SECRET-[0-9]+"], detectors: ["email"], style: "redact", appliesTo: ["terminal"] });
    const current = await apiCall(gh.url, t.admin, "GET", "/policies");
    expect((await apiCall(gh.url, t.admin, "PUT", "/policies", { text: current.body.policy.text + MASK_POLICY, comment: "mcp-ssh test" })).status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await teardown(gh, sshd);
  });

  it("runs a read command and returns its stdout and exit code; recorded like a native exec, origin mcp", async () => {
    const command = "echo hello; id -un";
    const res = await call(await mcp(t.dev), { connection: "box", command });
    expect(res.isError, text(res)).toBeFalsy();
    expect(outputOf(res)).toEqual({ exitCode: 0, stdout: `hello\n${SSH_TEST_USER}\n`, stderr: "" });
    expect(res.structuredContent).toMatchObject({ exitCode: 0, stdout: `hello\n${SSH_TEST_USER}\n` });

    const s = await latestSession("origin=mcp");
    expect(s).toMatchObject({ connectionName: "box", userEmail: "dev@example.test", protocol: "ssh", origin: "mcp", status: "ended", applicationName: "mcp:run_ssh_command" });
    const events = await eventsOf(s.id);
    const req = events.find((e) => e.kind === "request");
    expect(req?.payload).toMatchObject({ action: "exec", kind: "read", text: command, verdict: "allow" });
    expect(events.find((e) => e.kind === "term.start")?.payload).toMatchObject({ ch: 0, mode: "exec", command });
    expect(termText(events, false)).toBe(`hello\n${SSH_TEST_USER}\n`);
    expect(events.find((e) => e.kind === "term.exit")?.payload).toMatchObject({ code: 0 });
    expect(events.find((e) => e.kind === "result")?.payload).toMatchObject({ requestSeq: req!.seq, exitCode: 0, bytesOut: `hello\n${SSH_TEST_USER}\n`.length });

    // The same command from a native ssh client through the gateway records the same events.
    const native = await sshExec({ port: gh.ports.ssh, user: "box", password: t.dev }, command);
    expect(native.stdout).toBe(`hello\n${SSH_TEST_USER}\n`);
    const n = await latestSession("origin=native");
    await expect.poll(async () => (await latestSession("origin=native")).status, { timeout: 5000 }).not.toBe("live");
    const nativeEvents = await eventsOf(n.id);
    const shape = (list: Json[]) => list.map((e) => e.kind).filter((k) => k !== "term.o");
    expect(shape(events)).toEqual(shape(nativeEvents));
    const strip = (p: Json) => Object.fromEntries(Object.entries(p).filter(([k]) => !["durationMs", "requestSeq", "seq"].includes(k)));
    expect(strip(events.find((e) => e.kind === "result")!.payload)).toEqual(strip(nativeEvents.find((e) => e.kind === "result")!.payload));
  });

  it("returns a non-zero exit code and stderr as a normal result", async () => {
    const res = await call(await mcp(t.agent), { connection: "box", command: "echo out; ls /nonexistent-dir; exit 3" });
    expect(res.isError, text(res)).toBeFalsy();
    const out = outputOf(res);
    expect(out).toMatchObject({ exitCode: 3, stdout: "out\n" });
    expect(out.stderr).toMatch(/nonexistent-dir.*No such file or directory/);
    const s = await latestSession("origin=mcp");
    expect(s.chain.map((a: Json) => a.name)).toEqual(["dev@example.test", "claude"]);
    const events = await eventsOf(s.id);
    expect(termText(events, true)).toBe(out.stderr);
    expect(events.find((e) => e.kind === "result")?.payload).toMatchObject({ exitCode: 3 });
    // stdin is closed: a command that reads it ends instead of waiting for the timeout
    const cat = await call(await mcp(t.agent), { connection: "box", command: "cat; echo after-cat", timeout_seconds: 20 });
    expect(outputOf(cat)).toEqual({ exitCode: 0, stdout: "after-cat\n", stderr: "" });
  });

  it("holds an unknown command; after an approver approves over REST, wait_for_approval returns its output", async () => {
    const c = await mcp(t.agent);
    const command = "expr 6 '*' 7";
    const first = await call(c, { connection: "box", command, wait_seconds: 1 });
    expect(first.isError, text(first)).toBeFalsy();
    expect(first.structuredContent).toMatchObject({ status: "held" });
    const id = Number(/held for approval #(\d+)/.exec(text(first))?.[1]);
    expect(id).toBe(await pendingApproval(command));
    expect(text(await call(c, { approval_id: id, timeout_seconds: 1 }, "wait_for_approval"))).toMatch(/still pending/);

    expect((await apiCall(gh.url, t.approver, "POST", `/approvals/${id}/approve`, { comment: "fine" })).status).toBe(200);
    const done = await call(c, { approval_id: id, timeout_seconds: 30 }, "wait_for_approval");
    expect(done.isError, text(done)).toBeFalsy();
    expect(text(done)).toContain(`held for approval #${id}, approved.`);
    expect(outputOf(done)).toEqual({ exitCode: 0, stdout: "42\n", stderr: "" });

    const events = await eventsOf((await latestSession("origin=mcp")).id);
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(["request", "held", "approval", "term.start", "term.exit", "result"]));
    expect(events.find((e) => e.kind === "request")?.payload).toMatchObject({ kind: "unknown", text: command, verdict: "hold" });
    expect(termText(events, false)).toBe("42\n");
  });

  it("a denied command returns isError with the reason, and never runs", async () => {
    const marker = `/tmp/gh-mcp-denied-${randomBytes(4).toString("hex")}`;
    const command = `expr 1 > ${marker}`;
    const pending = call(await mcp(t.agent), { connection: "box", command });
    const id = await pendingApproval(command);
    expect((await apiCall(gh.url, t.approver, "POST", `/approvals/${id}/deny`, { reason: "not on a Friday" })).status).toBe(200);
    const res = await pending;
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(new RegExp(`^DENIED: held for approval #${id}; denied by approver: .*not on a Friday`));
    expect(fs.existsSync(marker)).toBe(false);
    const events = await eventsOf((await latestSession("origin=mcp")).id);
    expect(events.some((e) => e.kind.startsWith("term."))).toBe(false);
  });

  it("masks the output (and the recording) with the terminal masking rules policy names", async () => {
    const c = await mcp(t.agent);
    const command = "echo token SECRET-4242 mail jane@corp.example; echo SECRET-77 >&2";
    let res: CallToolResult | null = null;
    // The policy change reaches the runtime through the event bus.
    for (let i = 0; i < 50; i++) {
      res = await call(c, { connection: "box-masked", command });
      if (!text(res).includes("SECRET-4242")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(res!.isError, text(res!)).toBeFalsy();
    const out = outputOf(res!);
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toMatch(/^token \[REDACTED[^\]]*\] mail \[REDACTED[^\]]*\]\n$/);
    expect(out.stderr).toMatch(/^\[REDACTED[^\]]*\]\n$/);
    expect(text(res!)).toMatch(/3 values masked by policy/);
    const s = await latestSession("origin=mcp");
    expect(s.connectionName).toBe("box-masked");
    const recorded = JSON.stringify(await eventsOf(s.id));
    expect(recorded).not.toMatch(/SECRET-4242|SECRET-77|jane@corp\.example/);
    expect(recorded).toContain("[REDACTED");
  });

  it("kills a command that outlives timeout_seconds and says so, with progress notifications meanwhile", async () => {
    const started = Date.now();
    const seconds = 600 + Math.floor(Math.random() * 400); // tells this run's process from any other
    const progress: number[] = [];
    const c = await mcp(t.agent);
    const args = { connection: "box", command: `echo started; sleep ${seconds}`, timeout_seconds: 14 };
    // A 13.5 s request timeout only survives the 14 s because progress (every 10 s, counted from the
    // upstream login) resets it; the margin over 10 s is for setup on a loaded machine.
    const res = (await c.callTool({ name: "run_ssh_command", arguments: args }, undefined, { timeout: 13_500, resetTimeoutOnProgress: true, onprogress: (p) => void progress.push(p.progress) })) as CallToolResult;
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(Date.now() - started).toBeGreaterThan(14_000);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toBeGreaterThanOrEqual(9);
    expect(res.isError, text(res)).toBeFalsy();
    expect(text(res)).toMatch(/^timed out after 14 s; the command was killed/);
    expect(outputOf(res)).toMatchObject({ exitCode: null, signal: expect.stringMatching(/KILL/), stdout: "started\n", timedOut: true });
    // gone upstream, not just disconnected
    const left = spawnSync("pgrep", ["-u", SSH_TEST_USER, "-f", `^sleep ${seconds}$`], { encoding: "utf8" });
    expect(left.stdout.trim()).toBe("");
    const events = await eventsOf((await latestSession("origin=mcp")).id);
    expect(events.find((e) => e.kind === "result")?.payload).toMatchObject({ exitCode: null, signal: expect.stringMatching(/KILL/), timedOut: true });
  });

  it("caps each stream at 1 MiB with a truncated flag; the command still runs to its end", async () => {
    // The host is this machine: a file of 1,100,000 'a's to print (a command that made them with
    // `tr` or `head -c` would be an output transform, refused under the agent's masking).
    const file = `/tmp/gh-mcp-big-${randomBytes(4).toString("hex")}`;
    fs.writeFileSync(file, "a".repeat(1_100_000), { mode: 0o644 });
    const res = await call(await mcp(t.agent), { connection: "box", command: `cat ${file}; echo done >&2` }).finally(() => fs.rmSync(file, { force: true }));
    expect(res.isError, text(res)).toBeFalsy();
    expect(text(res)).toMatch(/^output truncated to 1 MiB per stream/);
    const out = outputOf(res);
    expect(out).toMatchObject({ exitCode: 0, stderr: "done\n", truncated: true, bytes: { stdout: 1_100_000, stderr: 5 } });
    expect(out.stdout).toBe("a".repeat(1 << 20));
    const result = (await eventsOf((await latestSession("origin=mcp")).id)).find((e) => e.kind === "result");
    expect(result?.payload).toMatchObject({ exitCode: 0, bytesOut: 1_100_005, truncated: true });
  });

  it("an unreachable upstream is an UPSTREAM error that does not reveal the address", async () => {
    const res = await call(await mcp(t.agent), { connection: "dead", command: "true" });
    expect(res.isError).toBe(true);
    expect(text(res)).toBe("UPSTREAM: cannot reach the upstream host");
    const events = await eventsOf((await latestSession("origin=mcp")).id);
    expect(events.find((e) => e.kind === "result")?.payload.error).toMatch(/cannot reach the upstream host/);
    expect(text(await call(await mcp(t.agent), { connection: "nope", command: "true" }))).toMatch(/^NOT_FOUND/);
  });
});
