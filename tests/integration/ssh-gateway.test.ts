import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { Client as Ssh2Client } from "ssh2";
import { authOptions, COMMON_OPTIONS, scp, sftpBatch, sshCommand, sshExec, spawnClient, startSsh, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { tcpTarget, throughForward } from "../support/ssh-forward";
import { startTmux } from "../support/tmux";
import { addApprover, addUser, heldApproval } from "../support/api-fixture";

/**
 * The SSH gateway end to end: real OpenSSH sshd upstream, real ssh/sftp/scp clients (and tmux
 * for the interactive shell) through a real Gatehouse process. Assertions check what the client
 * saw and what was recorded.
 */
describe("SSH gateway", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const tokens = { admin: "", member: "", approver: "" };
  const MEMBER = "ops@example.test";
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-ssh-gw-"));

  const target = (connection = "box", password = tokens.member): SshTarget => ({ port: gh.ports.ssh, user: connection, password });

  async function sessionsOf(filter: (s: Record<string, any>) => boolean) {
    const res = await apiCall(gh.url, tokens.admin, "GET", "/sessions?protocol=ssh");
    return (res.body.sessions as Record<string, any>[]).filter(filter);
  }
  async function allEvents(id: string): Promise<Record<string, any>[]> {
    const res = await fetch(`${gh.url}/api/v1/sessions/${id}/export?format=jsonl`, { headers: { authorization: `Bearer ${tokens.admin}` } });
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    return lines.filter((l) => l.kind !== "session");
  }
  async function latestSession(): Promise<Record<string, any>> {
    const [s] = await sessionsOf(() => true);
    return s;
  }
  async function eventsOfLatest(kind?: string, waitMs = 3000) {
    const until = Date.now() + waitMs;
    for (;;) {
      const s = await latestSession();
      const events = await allEvents(s.id);
      if (s.status !== "live" || Date.now() > until) return { session: s, events: kind ? events.filter((e) => e.kind === kind) : events };
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const pendingApproval = async () => (await heldApproval(gh, tokens.approver, () => true)) as Record<string, any>;

  /** A new connection `name` tagged so that an added policy permits `forward` with this request text (e.g. "agent"). */
  async function connectionPermittingForward(name: string, text: string, annotations = "") {
    const current = (await apiCall(gh.url, tokens.admin, "GET", "/policies")).body.policy as { text: string };
    const permit = `\n@id("${name}-forward-ok")${annotations}\npermit (principal, action == Gatehouse::Action::"forward", resource)\nwhen { resource.tags.contains("${name}-forward") && context.request.text == "${text}" };\n`;
    expect((await apiCall(gh.url, tokens.admin, "PUT", "/policies", { text: current.text + permit, comment: `${text} forwarding test` })).status).toBe(200);
    const added = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name, type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username: sshd.user, secret: sshd.password, tags: [`${name}-forward`] });
    expect(added.status).toBe(200);
  }

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, MEMBER);
    tokens.approver = await addApprover(gh, tokens.admin);
    const upstream = `ssh://127.0.0.1:${sshd.port}`;
    const add = async (name: string, extra: Record<string, unknown>) => {
      const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name, type: "ssh", upstream, username: sshd.user, tags: ["staging"], ...extra });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    await add("box", { secret: sshd.password });
    await add("box-key", { secret: sshd.privateKeyPem, options: { hostKey: sshd.hostKeyFingerprint } });
    await add("box-wrong-pin", { secret: sshd.password, options: { hostKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } });
  }, 120_000);

  afterAll(async () => {
    await teardown(gh, sshd);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("runs exec commands with exit status, stdout and stderr preserved, and records them", async () => {
    const r = await sshExec(target(), "echo hello; ls /nonexistent-dir; exit 3");
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("hello\n");
    expect(r.stderr).toMatch(/No such file or directory/);
    const { session, events } = await eventsOfLatest();
    expect(session).toMatchObject({ connectionName: "box", userEmail: MEMBER, protocol: "ssh", origin: "native" });
    const req = events.find((e) => e.kind === "request" && e.payload.action === "exec");
    expect(req?.payload).toMatchObject({ text: "echo hello; ls /nonexistent-dir; exit 3", kind: "read" });
    expect(events.find((e) => e.kind === "result" && e.payload.requestSeq === req!.seq)?.payload).toMatchObject({ exitCode: 3 });
    const out = events.filter((e) => e.kind === "term.o");
    expect(out.filter((e) => !e.payload.err).map((e) => e.payload.d).join("")).toBe("hello\n");
    expect(out.filter((e) => e.payload.err).map((e) => e.payload.d).join("")).toMatch(/No such file/);
    // the host key was pinned on first use
    const conn = (await apiCall(gh.url, tokens.admin, "GET", "/connections")).body.connections.find((c: any) => c.name === "box");
    expect(conn.options.hostKey).toBe(sshd.hostKeyFingerprint);
  });

  it("uses a stored private key upstream and keyboard-interactive with a token downstream", async () => {
    const r = await sshExec({ ...target("box-key"), passwordMethod: "keyboard-interactive" }, "whoami");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(sshd.user);
  });

  it("refuses a wrong token and an upstream whose host key does not match the pin", async () => {
    const bad = await sshExec(target("box", "not-a-token-at-all-xxxxxxxxxxxxxxxx"), "true");
    expect(bad.code).not.toBe(0); // sshpass exits 5 on a refused password, with nothing on stderr
    const pinned = await sshExec(target("box-wrong-pin"), "true");
    expect(pinned.code, pinned.stderr).toBe(126);
    expect(pinned.stderr).toMatch(/host key changed/);
  });

  it("holds an unclassifiable command until an approver approves it, and a denied one exits 126", async () => {
    const { stderr, exited } = startSsh(target(), "my-deploy-tool --now");
    const a = await pendingApproval();
    expect(a.request.text).toBe("my-deploy-tool --now");
    await expect.poll(() => stderr()).toMatch(new RegExp(`held for approval #${a.id}`));
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${a.id}/approve`, {})).status).toBe(200);
    expect(await exited).toBe(127); // it ran: the upstream shell did not find the program
    expect(stderr()).toMatch(/command not found|not found/);

    const denied = sshExec(target(), "another-tool");
    const b = await pendingApproval();
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${b.id}/deny`, { reason: "not today" })).status).toBe(200);
    const r = await denied;
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/denied/);
  });

  it("gives a held command up on a terminal's Ctrl-C or an ending signal: the approval is cancelled and nothing runs", async () => {
    const marker = (how: string) => path.join(os.tmpdir(), `gh-gave-up-${how}-${process.pid}-${Date.now()}`);
    const approvalOf = async (id: number) => (await apiCall(gh.url, tokens.approver, "GET", `/approvals/${id}`)).body.approval;

    // OpenSSH with a terminal (-tt): Ctrl-C is a byte of input, sent while the command waits.
    const byKey = marker("ctrl-c");
    const t = target();
    const child = spawnClient("ssh", ["-p", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), "-tt", `${t.user}@127.0.0.1`, "--", `my-deploy-tool; touch ${byKey}`], t);
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d) => (stderr += d)); // with a pty, the notices arrive on stdout
    child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    const a = await pendingApproval();
    await expect.poll(() => stderr).toMatch(new RegExp(`held for approval #${a.id}`));
    child.stdin!.write("typed ahead\x03");
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/gave up waiting for approval \(Ctrl-C\); nothing was run/);
    await expect.poll(async () => (await approvalOf(a.id)).status).toBe("cancelled");
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${a.id}/approve`, {})).status).not.toBe(200);

    // A client program's signal request (ssh2), no terminal: INT ends the wait the same way.
    const bySignal = marker("signal");
    const code = await new Promise<number | null>((resolve, reject) => {
      const c = new Ssh2Client();
      c.on("error", reject).on("ready", () => {
        c.exec(`my-deploy-tool; touch ${bySignal}`, (err, ch) => {
          if (err) return reject(err);
          let exit: number | null = null;
          ch.on("exit", (n: number | null) => (exit = n)).on("close", () => (c.end(), resolve(exit)));
          ch.resume();
          ch.stderr.resume();
          void pendingApproval().then(async (b) => {
            ch.signal("INT");
            await expect.poll(async () => (await approvalOf(b.id)).status).toBe("cancelled");
          }, reject);
        });
      }).connect({ host: "127.0.0.1", port: gh.ports.ssh, username: "box", password: tokens.member });
    });
    expect(code).toBe(130);

    // Given up means never run: neither command touched the host.
    expect(fs.existsSync(byKey)).toBe(false);
    expect(fs.existsSync(bySignal)).toBe(false);
    const { events } = await eventsOfLatest("result");
    expect(events.at(-1)?.payload).toMatchObject({ exitCode: 130, denied: true, error: "the user gave up waiting (signal INT)" });
  });

  it("refuses local, dynamic-style (-W) and remote forwarding by default and records the refusals", async () => {
    const w = await sshExec(target(), "", { extraArgs: ["-W", `127.0.0.1:${sshd.port}`] });
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/administratively prohibited|open failed|stdio forwarding failed/i);
    const { events } = await eventsOfLatest("forward");
    expect(events[0]?.payload).toMatchObject({ type: "local", target: `127.0.0.1:${sshd.port}`, allowed: false });
    const r = await sshExec(target(), "true", { extraArgs: ["-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:22"] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/remote port forwarding failed/i);
  });

  it("relays a local forward (-L) a policy permits for the connection, recording its bytes each way, not its contents", async () => {
    const echo = await tcpTarget({ echo: true });
    try {
      await connectionPermittingForward("box-fwd", `local 127.0.0.1:${echo.port}`);
      const message = "through the tunnel\n".repeat(500);
      const r = await throughForward(target("box-fwd"), "-L", echo.port, { send: message });
      expect(r.received).toBe(message);
      expect(r.closed).toBe(true);
      const { events } = await eventsOfLatest();
      expect(events.filter((e) => e.kind.startsWith("forward")).map((e) => [e.kind, e.payload])).toEqual([
        ["forward", { type: "local", target: `127.0.0.1:${echo.port}`, allowed: true }],
        ["forward.end", { type: "local", target: `127.0.0.1:${echo.port}`, fromClient: message.length, toClient: message.length, durationMs: expect.any(Number) }],
      ]);
      expect(JSON.stringify(events)).not.toContain("through the tunnel");
    } finally {
      await echo.close();
    }
  });

  it("passes sftp put/get/rm and scp (sftp and legacy protocols) through, recording the file operations", async () => {
    const local = path.join(tmp, "up.txt");
    fs.writeFileSync(local, "x".repeat(100_000));
    const r = await sftpBatch(target(), [`put ${local} /tmp/gh-sftp-up.txt`, `get /tmp/gh-sftp-up.txt ${path.join(tmp, "down.txt")}`, "rm /tmp/gh-sftp-up.txt"]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(tmp, "down.txt"), "utf8")).toBe("x".repeat(100_000));
    const { events } = await eventsOfLatest();
    const ops = events.filter((e) => e.kind === "sftp").map((e) => `${e.payload.op} ${e.payload.path}`);
    expect(ops).toEqual(expect.arrayContaining(["open /tmp/gh-sftp-up.txt", "remove /tmp/gh-sftp-up.txt"]));
    expect(events.filter((e) => e.kind === "request").map((e) => e.payload.text)).toEqual(expect.arrayContaining(["sftp write /tmp/gh-sftp-up.txt", "sftp remove /tmp/gh-sftp-up.txt"]));
    const written = events.find((e) => e.kind === "sftp" && e.payload.op === "close" && e.payload.flags === "written");
    expect(written?.payload.bytes).toBe(100_000);

    const s1 = await scp(target(), local, "box@127.0.0.1:/tmp/gh-scp-new.txt");
    expect(s1.code, s1.stderr).toBe(0);
    const s2 = await scp(target(), local, "box@127.0.0.1:/tmp/gh-scp-legacy.txt", { legacy: true });
    expect(s2.code, s2.stderr).toBe(0);
    const check = await sshExec(target(), "wc -c /tmp/gh-scp-new.txt /tmp/gh-scp-legacy.txt");
    expect(check.stdout).toMatch(/100000 \/tmp\/gh-scp-new.txt/);
    expect(check.stdout).toMatch(/100000 \/tmp\/gh-scp-legacy.txt/);
  });

  it("records an interactive shell driven through tmux: output, input, resize and reconstructed commands", async () => {
    const cmd = sshCommand(target(), [], ["-tt"]);
    const tmux = await startTmux(cmd.argv, { cols: 100, rows: 30, env: cmd.env });
    try {
      await tmux.waitFor(/\$$/m, 15_000); // capture-pane trims the space after the prompt
      await tmux.sendLine("echo $((6*7))");
      await tmux.waitFor(/^42$/m);
      await tmux.resize(120, 40);
      await tmux.sendLine("exit");
      await expect.poll(() => tmux.exited(), { timeout: 10_000 }).toBe(true);
    } finally {
      await tmux.kill();
      cmd.cleanup();
    }
    const { events } = await eventsOfLatest();
    expect(events.find((e) => e.kind === "request")?.payload).toMatchObject({ action: "exec", kind: "interactive", text: "shell" });
    expect(events.find((e) => e.kind === "term.start")?.payload).toMatchObject({ mode: "shell", cols: 100 });
    expect(events.filter((e) => e.kind === "term.o").map((e) => e.payload.d).join("")).toMatch(/\r\n(?:\x1b\[\?2004l\r?)?42\r\n/); // bash turns bracketed paste off before running
    expect(events.filter((e) => e.kind === "term.cmd").map((e) => e.payload.text)).toEqual(expect.arrayContaining(["echo $((6*7))", "exit"]));
    expect(events.find((e) => e.kind === "term.r")?.payload).toMatchObject({ cols: 120, rows: 40 });
  });

  it("ends a live session when an admin kills it, with a clear message", async () => {
    const { stderr, exited } = startSsh(target(), "sleep 60");
    let live: Record<string, any> | undefined;
    await expect.poll(async () => (live = (await sessionsOf((s) => s.status === "live"))[0]), { timeout: 10_000 }).toBeTruthy();
    await new Promise((r) => setTimeout(r, 300));
    expect((await apiCall(gh.url, tokens.admin, "POST", `/sessions/${live!.id}/kill`, { reason: "incident 42" })).status).toBe(200);
    expect(await exited).not.toBe(0);
    expect(stderr()).toMatch(/gatehouse: session ended: .*incident 42/);
  });

  it("a kill while the upstream is still being reached tells the waiting command why (it never runs)", async () => {
    // An upstream that accepts and never says a word: the gateway's session is live, its ssh login upstream still pending.
    const held: net.Socket[] = [];
    const tarpit = net.createServer((s) => held.push(s.on("error", () => {})));
    await new Promise<void>((r) => tarpit.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (tarpit.address() as net.AddressInfo).port;
      const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "tarpit", type: "ssh", upstream: `ssh://127.0.0.1:${port}`, username: sshd.user, secret: sshd.password, tags: ["staging"] });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const { stderr, exited } = startSsh(target("tarpit"), "echo never-ran");
      await expect.poll(() => held.length, { timeout: 10_000 }).toBeGreaterThan(0);
      const [live] = await sessionsOf((s) => s.status === "live" && s.connectionName === "tarpit");
      expect(live, "the session is live while its upstream is reached").toBeTruthy();
      expect((await apiCall(gh.url, tokens.admin, "POST", `/sessions/${live.id}/kill`, { reason: "incident 43" })).status).toBe(200);
      expect(await exited).toBe(255);
      expect(stderr()).toMatch(/gatehouse: session ended: .*incident 43/);
      expect(stderr()).not.toContain("never-ran");
      // the recording says a command was asked for and not run, and why
      await expect.poll(async () => (await sessionsOf((s) => s.id === live.id))[0]?.status, { timeout: 10_000 }).not.toBe("live");
      expect((await allEvents(live.id)).find((e) => e.kind === "error")?.payload.message).toMatch(/^exec not run: the session ended before it started \(.*incident 43/);
    } finally {
      for (const s of held) s.destroy();
      tarpit.close();
    }
  });

  it("loses nothing: 50 MB of output arrive and are recorded byte for byte", async () => {
    const N = 50 * 2 ** 20;
    const cmd = sshCommand(target(), [`head -c ${N} /dev/zero | tr '\\0' 'a' | fold -w 100`]);
    const { spawn } = await import("node:child_process");
    const child = spawn(cmd.argv[0], cmd.argv.slice(1), { env: { ...process.env, ...cmd.env } });
    const hash = createHash("sha256");
    let bytes = 0;
    child.stdout.on("data", (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on("close", r));
    cmd.cleanup();
    expect(code, stderr).toBe(0);
    expect(bytes).toBe(N + N / 100 - 1); // fold ends every 100 characters but the last with a newline
    const { events } = await eventsOfLatest("term.o", 30_000);
    const rec = createHash("sha256");
    let recBytes = 0;
    for (const e of events) {
      const b = e.payload.b64 ? Buffer.from(e.payload.b64, "base64") : Buffer.from(e.payload.d, "utf8");
      rec.update(b);
      recBytes += b.length;
    }
    expect(recBytes).toBe(bytes);
    expect(rec.digest("hex")).toBe(hash.digest("hex"));
  }, 120_000);

  it("logs in with a public key the user registered; removing the key ends the live session", async () => {
    const file = path.join(tmp, "member-key");
    execFileSync("ssh-keygen", ["-q", "-N", "", "-t", "ed25519", "-C", "member@test", "-f", file]);
    const added = await apiCall(gh.url, tokens.member, "POST", "/ssh-keys", { name: "laptop", publicKey: fs.readFileSync(`${file}.pub`, "utf8") });
    expect(added.status).toBe(200);
    const keyTarget: SshTarget = { port: gh.ports.ssh, user: "box", identityFile: file };
    const r = await sshExec(keyTarget, "echo key-login");
    expect(r.stdout, r.stderr).toBe("key-login\n");
    expect((await latestSession())).toMatchObject({ userEmail: MEMBER, connectionName: "box" });
    // An unregistered key is refused.
    const stranger = path.join(tmp, "stranger-key");
    execFileSync("ssh-keygen", ["-q", "-N", "", "-t", "ed25519", "-f", stranger]);
    expect((await sshExec({ ...keyTarget, identityFile: stranger }, "echo no")).code).toBe(255);

    const { stderr, exited } = startSsh(keyTarget, "sleep 60");
    await expect.poll(async () => (await sessionsOf((s) => s.status === "live")).length, { timeout: 10_000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 300)); // the exec is running upstream
    expect((await apiCall(gh.url, tokens.member, "DELETE", `/ssh-keys/${added.body.key.id}`)).status).toBe(200);
    expect(await exited).not.toBe(0);
    expect(stderr()).toMatch(/gatehouse: session ended: the SSH key this session logged in with was removed/);
    expect((await sshExec(keyTarget, "echo again")).code).toBe(255);
  });

  it("forwards the client's agent when policy permits it for the connection (ssh -A), and only then", async () => {
    await connectionPermittingForward("box-agent", "agent");

    // A real ssh-agent holding a key only the client has.
    const sock = path.join(tmp, "agent.sock");
    const agentPid = /SSH_AGENT_PID=(\d+)/.exec(execFileSync("ssh-agent", ["-a", sock], { encoding: "utf8" }))![1];
    try {
      const key = path.join(tmp, "agent-key");
      execFileSync("ssh-keygen", ["-q", "-N", "", "-t", "ed25519", "-C", "in-the-agent", "-f", key]);
      execFileSync("ssh-add", [key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
      const env = { SSH_AUTH_SOCK: sock };
      // ssh-add is not a command the classifier knows: held, and approved here.
      const approveNext = async (id?: number) => expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${id ?? (await pendingApproval()).id}/approve`, {})).status).toBe(200);
      const allowedRun = sshExec(target("box-agent"), "ssh-add -l", { extraArgs: ["-A"], env });
      await approveNext();
      const allowed = await allowedRun;
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stdout).toMatch(/in-the-agent \(ED25519\)/);
      const { events } = await eventsOfLatest("forward");
      expect(events.map((e) => e.payload)).toEqual([
        expect.objectContaining({ ch: 0, type: "agent", allowed: true }),
        expect.objectContaining({ type: "agent", target: "agent channel opened by the upstream host", allowed: true }),
      ]);
      // the agent channel's bytes each way (its contents are not recorded): a request for the
      // identities went to the client's agent, the key list came back
      const [ended] = (await eventsOfLatest("forward.end")).events.map((e) => e.payload);
      expect(ended).toMatchObject({ type: "agent", target: "agent channel", fromClient: expect.any(Number), toClient: expect.any(Number) });
      expect(ended.toClient).toBeGreaterThan(0);
      expect(ended.fromClient).toBeGreaterThan(ended.toClient as number);

      const refusedRun = sshExec(target("box"), "ssh-add -l", { extraArgs: ["-A"], env });
      await approveNext();
      const refused = await refusedRun;
      expect(refused.code, refused.stdout + refused.stderr).toBe(2); // ssh-add: no agent upstream
      expect(refused.stderr).toMatch(/Could not open a connection to your authentication agent|Error connecting to agent/);
      expect((await eventsOfLatest("forward")).events[0]?.payload).toMatchObject({ type: "agent", allowed: false, reason: expect.stringMatching(/no policy permits forward/) });

      // Held by policy: the user is told where to get it approved, and it forwards once approved.
      await connectionPermittingForward("box-agent-held", "agent", '\n@hold("approvers")');
      const heldRun = sshExec(target("box-agent-held"), "ssh-add -l", { extraArgs: ["-A"], env });
      const forward = await pendingApproval();
      expect(forward.request).toMatchObject({ action: "forward", text: "agent" });
      await approveNext(forward.id);
      await approveNext(); // the command
      const held = await heldRun;
      expect(held.code, held.stderr).toBe(0);
      expect(held.stderr).toMatch(new RegExp(`gatehouse: agent forwarding held for approval #${forward.id}: http\\S+ \\(waiting\\)`));
      expect(held.stdout).toMatch(/in-the-agent \(ED25519\)/);
    } finally {
      process.kill(Number(agentPid));
    }
  });

  it("forwards X11 to the client's display when policy permits it (ssh -Y), and only then", async () => {
    await connectionPermittingForward("box-x11", "x11");

    // A stand-in X server on the client's side (display 127.0.0.1:N = TCP 6000+N): it keeps the
    // connection setup it receives and answers "Failed" with a reason the upstream program prints.
    const REASON = "gatehouse-test-x-server";
    const pad4 = (b: Buffer) => Buffer.concat([b, Buffer.alloc(-b.length & 3)]);
    const setups: Buffer[] = [];
    const xserver = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on("error", () => {});
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        const padded = (n: number) => (n + 3) & ~3;
        if (buf.length < 12 || buf.length < 12 + padded(buf.readUInt16LE(6)) + padded(buf.readUInt16LE(8))) return;
        setups.push(buf);
        const reason = pad4(Buffer.from(REASON));
        const head = Buffer.alloc(8);
        head.writeUInt8(0, 0); // Failed
        head.writeUInt8(REASON.length, 1);
        head.writeUInt16LE(11, 2);
        head.writeUInt16LE(reason.length / 4, 6);
        sock.end(Buffer.concat([head, reason]));
      });
    });
    let display = 0;
    for (let n = 40; n < 100 && !display; n++) {
      display = await new Promise<number>((resolve) => {
        xserver.once("error", () => resolve(0));
        xserver.listen(6000 + n, "127.0.0.1", () => resolve(n));
      });
    }
    expect(display).toBeGreaterThan(0);
    try {
      // The client's real cookie, which only the client's xauth file holds: OpenSSH sends sshd a
      // fake one and puts this one back into the bytes that reach the display.
      const realCookie = "0123456789abcdef0f1e2d3c4b5a6978";
      const xauthority = path.join(tmp, "Xauthority");
      fs.writeFileSync(xauthority, "");
      execFileSync("xauth", ["-f", xauthority, "add", `127.0.0.1:${display}`, "MIT-MAGIC-COOKIE-1", realCookie]);
      const env = { DISPLAY: `127.0.0.1:${display}`, XAUTHORITY: xauthority };
      // Upstream: an X client by hand. It takes the cookie sshd stored for its DISPLAY, sends a
      // connection setup to that display and prints the server's answer.
      const program = [
        "import os, socket, struct, subprocess",
        "d = os.environ.get(\"DISPLAY\", \"\")",
        "print(\"DISPLAY=\" + d, flush=True)",
        "d or exit(3)",
        "name, cookie = subprocess.run([\"xauth\", \"list\", d], capture_output=True, text=True).stdout.split()[1:3]",
        "pad = lambda b: b + bytes(-len(b) % 4)",
        "s = socket.create_connection((\"127.0.0.1\", 6000 + int(d.split(\":\")[1].split(\".\")[0])))",
        "s.sendall(struct.pack(\"<cxHHHHxx\", b\"l\", 11, 0, len(name), len(cookie) // 2) + pad(name.encode()) + pad(bytes.fromhex(cookie)))",
        "r = b\"\"",
        "while len(r) < 8 or len(r) < 8 + 4 * struct.unpack(\"<H\", r[6:8])[0]:",
        "  c = s.recv(4096)",
        "  if not c: break",
        "  r += c",
        "print(\"x11 reply\", r[0], r[8:8 + r[1]].decode(), flush=True)",
      ].join("\n");
      const command = `python3 -c '${program}'`;
      const approveNext = async () => expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${(await pendingApproval()).id}/approve`, {})).status).toBe(200);

      // -Y (trusted): for -X, OpenSSH first has xauth ask the X server itself for an untrusted
      // cookie (SECURITY extension), which this stand-in does not speak.
      const allowedRun = sshExec(target("box-x11"), command, { extraArgs: ["-Y"], env });
      await approveNext();
      const allowed = await allowedRun;
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(allowed.stdout).toMatch(/^DISPLAY=localhost:\d+\.0\n/);
      expect(allowed.stdout).toContain(`x11 reply 0 ${REASON}\n`);
      const name = Buffer.from("MIT-MAGIC-COOKIE-1");
      const head = Buffer.alloc(12);
      head.write("l", 0);
      head.writeUInt16LE(11, 2);
      head.writeUInt16LE(name.length, 6);
      head.writeUInt16LE(16, 8);
      expect(setups.map((b) => b.toString("hex"))).toEqual([Buffer.concat([head, pad4(name), Buffer.from(realCookie, "hex")]).toString("hex")]);
      const { events } = await eventsOfLatest("forward");
      expect(events.map((e) => e.payload)).toEqual([
        expect.objectContaining({ ch: 0, type: "x11", allowed: true }),
        expect.objectContaining({ type: "x11", target: "x11 channel opened by the upstream host", allowed: true }),
      ]);
      // its bytes each way are recorded when it closes, not its contents
      const ended = (await eventsOfLatest("forward.end")).events.map((e) => e.payload);
      expect(ended).toEqual([{ type: "x11", target: "x11 channel opened by the upstream host", toClient: setups[0].length, fromClient: 8 + pad4(Buffer.from(REASON)).length, durationMs: expect.any(Number) }]);

      const refusedRun = sshExec(target("box"), command, { extraArgs: ["-Y"], env });
      await approveNext();
      const refused = await refusedRun;
      expect(refused.code, refused.stdout + refused.stderr).toBe(3);
      expect(refused.stdout).toBe("DISPLAY=\n");
      expect(refused.stderr).toMatch(/gatehouse: X11 forwarding refused: .*no policy permits forward/);
      expect(setups).toHaveLength(1);
      expect((await eventsOfLatest("forward")).events.map((e) => e.payload)).toEqual([
        expect.objectContaining({ ch: 0, type: "x11", allowed: false, reason: expect.stringMatching(/no policy permits forward/) }),
      ]);
    } finally {
      await new Promise((r) => xserver.close(r));
    }
  });

  it("garbage before the banner and a never-finishing handshake do not stall other users", async () => {
    const garbage = net.connect(gh.ports.ssh, "127.0.0.1", () => garbage.write("GET / HTTP/1.1\r\n\r\n" + "\x00\xff".repeat(5000)));
    garbage.on("error", () => {});
    const silent = net.connect(gh.ports.ssh, "127.0.0.1", () => silent.write("SSH-2.0-slowloris\r\n"));
    silent.on("error", () => {});
    const started = Date.now();
    const r = await sshExec(target(), "echo fine");
    expect(r.stdout).toBe("fine\n");
    expect(Date.now() - started).toBeLessThan(9000); // room for a loaded machine, but under the 10 s handshake deadline: a stall until then would pass
    garbage.destroy();
    silent.destroy();
  });
});
