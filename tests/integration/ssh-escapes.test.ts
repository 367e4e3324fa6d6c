import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import {
  ssh2ChannelRequest,
  ssh2Connect,
  ssh2Exec,
  ssh2Subsystem,
  sshExec,
  type Ssh2Client,
  type SshTarget,
} from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { tcpTarget, throughForward } from "../support/ssh-forward";
import { addApprover, addConnection, addUser, heldApproval, ofKind, type Rec, sessionsOf, sshUpstream, termOutput as output } from "../support/api-fixture";

/**
 * SECURITY.md "SSH escapes": every way an SSH client can reach past the command it was allowed
 * to run, tried for real through a real Gatehouse against a real OpenSSH sshd that permits all
 * of it (forwarding, agent, X11, any env variable, extra subsystems). So whatever is refused
 * here was refused by Gatehouse, and each attack is first shown to work against the sshd
 * directly, which proves the probe would notice a gateway that let it through.
 * -W and -R are covered in ssh-gateway.test.ts.
 */
const MARKER = "GH-SUBSYSTEM-REACHED";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SSH escapes through the gateway", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let agent: ChildProcess | null = null;
  const tokens = { admin: "", member: "", approver: "" };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-ssh-esc-"));
  const agentSock = path.join(tmp, "agent.sock");

  const gw = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: tokens.member });
  const direct = (): SshTarget => ({ port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath });

  const { ids: sessionIds, opened: newSession, recorded } = sessionsOf(() => gh, () => tokens.admin, "ssh");
  const pendingApproval = (text: string) => heldApproval(gh, tokens.approver, text);
  const decideApproval = async (id: number, verb: "approve" | "deny") =>
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${id}/${verb}`, verb === "deny" ? { reason: "escape test" } : {})).status).toBe(200);

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([
      startGatehouse({ demo: false }),
      startSshd({
        extraConfig: [
          // Any variable, so a variable that arrives upstream shows up in `env`.
          "AcceptEnv *",
          // Subsystems the gateway must not open: each prints MARKER if it ever runs.
          `Subsystem gh-escape /bin/echo ${MARKER}`,
          `Subsystem SFTP /bin/echo ${MARKER}`,
          `Subsystem sftp-server /bin/echo ${MARKER}`,
        ],
      }),
    ]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, "ops@example.test");
    tokens.approver = await addApprover(gh, tokens.admin);
    await addConnection(gh, tokens.admin, "box", { ...sshUpstream(sshd), tags: ["staging"] });
    agent = spawn("ssh-agent", ["-D", "-a", agentSock], { stdio: "ignore" });
    for (let i = 0; i < 100 && !fs.existsSync(agentSock); i++) await sleep(50);
  }, 120_000);

  afterAll(async () => {
    if (process.env.GH_DEBUG) console.log(gh?.output());
    agent?.kill("SIGTERM");
    await teardown(gh, sshd);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("-L: a real connection to the forwarded local port never reaches the target; the refusal is recorded", async () => {
    const target = await tcpTarget();
    try {
      const control = await throughForward(direct(), "-L", target.port);
      expect(control.received).toBe("TARGET-HELLO\n");
      expect(target.connections()).toBe(1);

      const known = await sessionIds();
      const r = await throughForward(gw(), "-L", target.port);
      expect(r.received).toBe("");
      expect(r.closed).toBe(true); // ssh closes the local socket when the channel open fails
      expect(r.stderr).toMatch(/channel \d+: open failed/);
      expect(target.connections()).toBe(1);
      const events = await recorded(await newSession(known));
      expect(ofKind(events, "forward")).toEqual([{ type: "local", target: `127.0.0.1:${target.port}`, allowed: false, reason: expect.any(String) }]);
      expect(ofKind(events, "request").find((p) => p.action === "forward")).toMatchObject({ text: `local 127.0.0.1:${target.port}` });
    } finally {
      await target.close();
    }
  });

  it("-D: a SOCKS5 CONNECT through the dynamic forward is closed without a byte from the target; recorded", async () => {
    const target = await tcpTarget();
    try {
      const control = await throughForward(direct(), "-D", target.port);
      expect(control.received).toContain("TARGET-HELLO");
      expect(target.connections()).toBe(1);

      const known = await sessionIds();
      const r = await throughForward(gw(), "-D", target.port);
      expect(r.received).not.toContain("TARGET-HELLO");
      expect(r.closed).toBe(true);
      expect(r.stderr).toMatch(/channel \d+: open failed/);
      expect(target.connections()).toBe(1);
      const events = await recorded(await newSession(known));
      expect(ofKind(events, "forward")).toEqual([{ type: "local", target: `127.0.0.1:${target.port}`, allowed: false, reason: expect.any(String) }]);
    } finally {
      await target.close();
    }
  });

  // ssh2's reject() would say "connect failed" (as if the target were down); sshd says
  // "administratively prohibited" for a forward it forbids, and so does Gatehouse, with its reason.
  it("a refused -L says so: administratively prohibited, not connect failed", async () => {
    const target = await tcpTarget();
    try {
      const r = await throughForward(gw(), "-L", target.port);
      expect(r.stderr).toMatch(/open failed: administratively prohibited: gatehouse: no policy permits forward/);
    } finally {
      await target.close();
    }
  });

  it("agent forwarding: ssh -A and ssh2's request are refused (ssh2 sees the failure) and recorded", async () => {
    let known = await sessionIds();
    const r = await sshExec(gw(), "env", { extraArgs: ["-A"], env: { SSH_AUTH_SOCK: agentSock } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^USER=gh-ssh-test$/m);
    let events = await recorded(await newSession(known));
    expect(ofKind(events, "forward")).toEqual([expect.objectContaining({ type: "agent", allowed: false })]);
    expect(ofKind(events, "request").find((p) => p.action === "forward")).toMatchObject({ text: "agent" });

    // OpenSSH asks without want-reply; ssh2 asks with it and must be told no.
    known = await sessionIds();
    const client = await ssh2Connect(gw(), { agent: agentSock, agentForward: true });
    try {
      await expect(ssh2Exec(client, "env")).rejects.toThrow(/Unable to request agent forwarding/);
    } finally {
      client.end();
    }
    events = await recorded(await newSession(known));
    expect(ofKind(events, "forward")).toEqual([expect.objectContaining({ type: "agent", allowed: false })]);
    expect(ofKind(events, "request").filter((p) => p.action === "exec")).toEqual([]);
  });

  it("agent forwarding refused: the upstream command gets no SSH_AUTH_SOCK, with or without -A", async () => {
    const control = await sshExec(direct(), "env", { extraArgs: ["-A"], env: { SSH_AUTH_SOCK: agentSock } });
    expect(control.stdout).toMatch(/^SSH_AUTH_SOCK=/m); // the probe notices a forwarded agent
    const r = await sshExec(gw(), "env", { extraArgs: ["-A"], env: { SSH_AUTH_SOCK: agentSock } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^USER=gh-ssh-test$/m);
    expect(r.stdout).not.toMatch(/SSH_AUTH_SOCK/);
    const plain = await sshExec(gw(), "env", { env: { SSH_AUTH_SOCK: agentSock } });
    expect(plain.stdout).toMatch(/^USER=gh-ssh-test$/m);
    expect(plain.stdout).not.toMatch(/SSH_AUTH_SOCK/);
  });

  // The gateway may answer x11-req with a failure, or accept it and tell the refusal on the
  // channel's stderr (it cannot hold the reply for the decision without stalling the command):
  // either way no DISPLAY upstream, no X11 channel, and the refusal recorded.
  it("X11: ssh -X and ssh2's x11 request get no DISPLAY upstream and are told so; both recorded", async () => {
    const control = await sshExec(direct(), "env", { extraArgs: ["-X"], env: { DISPLAY: ":99" } });
    expect(control.stdout).toMatch(/^DISPLAY=/m);

    let known = await sessionIds();
    const r = await sshExec(gw(), "env", { extraArgs: ["-X"], env: { DISPLAY: ":99" }, timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^USER=gh-ssh-test$/m);
    expect(r.stdout).not.toMatch(/DISPLAY/);
    expect(r.stderr).toMatch(/X11 forwarding request failed|X11 forwarding refused/);
    let events = await recorded(await newSession(known));
    expect(ofKind(events, "forward")).toEqual([expect.objectContaining({ type: "x11", allowed: false })]);
    expect(ofKind(events, "request").find((p) => p.action === "forward")).toMatchObject({ text: "x11" });

    known = await sessionIds();
    const client = await ssh2Connect(gw());
    let x11Channels = 0;
    client.on("x11", (_info, _accept, reject) => (x11Channels++, reject()));
    try {
      const outcome = await ssh2Exec(client, "env", { x11: true }).then(
        async (run) => (await run.done, run),
        (err: Error) => err,
      );
      if (outcome instanceof Error) expect(outcome.message).toMatch(/Unable to request X11/);
      else {
        expect(outcome.stdout()).toMatch(/^USER=gh-ssh-test$/m);
        expect(outcome.stdout()).not.toMatch(/DISPLAY/);
        expect(outcome.stderr()).toMatch(/X11 forwarding refused/);
      }
    } finally {
      client.end();
    }
    events = await recorded(await newSession(known));
    expect(ofKind(events, "forward")).toEqual([expect.objectContaining({ type: "x11", allowed: false })]);
    expect(x11Channels).toBe(0);
  });

  it("subsystems other than exactly `sftp` (made up, SFTP, sftp-server, padded) are refused and nothing runs upstream", async () => {
    const control = await ssh2Connect({ port: sshd.port, user: sshd.user }, { privateKey: sshd.privateKeyPem });
    try {
      for (const name of ["gh-escape", "SFTP", "sftp-server"]) {
        const run = await ssh2Subsystem(control, name);
        await run.done;
        expect(run.stdout()).toBe(`${MARKER}\n`);
      }
    } finally {
      control.end();
    }

    const known = await sessionIds();
    const client = await ssh2Connect(gw());
    try {
      for (const name of ["gh-escape", "SFTP", "sftp-server", "sftp ", " sftp", "sftp\u0000", "sftp@openssh.com"]) {
        await expect(ssh2Subsystem(client, name), JSON.stringify(name)).rejects.toThrow(/Unable to start subsystem/);
      }
      // the connection is still good for what is allowed
      const ok = await ssh2Exec(client, "echo still-here");
      expect(await ok.done).toBe(0);
      expect(ok.stdout()).toBe("still-here\n");
    } finally {
      client.end();
    }
    const events = await recorded(await newSession(known));
    expect(ofKind(events, "sftp").filter((p) => p.op === "start")).toEqual([]);
    expect(ofKind(events, "term.start").map((p) => p.command)).toEqual(["echo still-here"]);
    expect(output(events)).toBe("still-here\n");
  });

  it("env requests: LD_PRELOAD, BASH_ENV and other names never reach upstream; LANG, LC_*, TZ, COLORTERM and TERM pass as sent (TERM beats the pty's type); the verdict is unchanged", async () => {
    const sent = ["LD_PRELOAD=/nonexistent/gh-preload.so", "GH_INJECTED=yes", "BASH_ENV=/tmp/gh-bash-env", "LANG=C.UTF-8", "LC_GH=lc-value", "TZ=Etc/GH", "COLORTERM=gh-color", "TERM=gh-term"];
    const setEnv = ["-o", `SetEnv=${sent.join(" ")}`];
    const control = await sshExec(direct(), "env", { extraArgs: setEnv });
    expect(control.stdout).toMatch(/^GH_INJECTED=yes$/m);
    expect(control.stderr).toMatch(/gh-preload\.so.*cannot be preloaded/);

    const known = await sessionIds();
    const r = await sshExec(gw(), "env", { extraArgs: setEnv });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const env = new Map(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(env.has("LD_PRELOAD")).toBe(false);
    expect(env.has("GH_INJECTED")).toBe(false);
    expect(env.has("BASH_ENV")).toBe(false);
    expect(env.get("LANG")).toBe("C.UTF-8");
    expect(env.get("LC_GH")).toBe("lc-value");
    expect(env.get("TZ")).toBe("Etc/GH");
    expect(env.get("COLORTERM")).toBe("gh-color");
    expect(env.get("TERM")).toBe("gh-term");
    const events = await recorded(await newSession(known));
    const [req] = ofKind(events, "request");
    expect(req).toMatchObject({ action: "exec", kind: "read", text: "env", verdict: "allow" });
    expect(JSON.stringify(events)).not.toContain("gh-preload");

    // With a pty too: the same filter, and the TERM env request (forwarded as sent) wins over
    // the pty request's terminal type upstream, exactly as it does with sshd directly.
    const tty = await sshExec(gw(), "env", { extraArgs: setEnv, tty: true, env: { TERM: "xterm-local" } });
    expect(tty.stdout).toMatch(/^TERM=gh-term\r$/m);
    expect(tty.stdout).toMatch(/^LC_GH=lc-value\r$/m);
    expect(tty.stdout).not.toMatch(/LD_PRELOAD|GH_INJECTED|BASH_ENV|cannot be preloaded/);
  });

  it("a second channel on an approved connection is decided on its own: held again, and an approval is single use", async () => {
    const known = await sessionIds();
    const client = await ssh2Connect(gw());
    try {
      const first = await ssh2Exec(client, "my-deploy-tool --first");
      const a = await pendingApproval("my-deploy-tool --first");
      await decideApproval(a.id, "approve");
      expect(await first.done, first.stderr()).toBe(127); // it ran: the upstream shell did not find the program
      expect(first.stderr()).toMatch(new RegExp(`approved \\(#${a.id}\\)`));

      // another command on the same connection
      const second = await ssh2Exec(client, "my-deploy-tool --second");
      const b = await pendingApproval("my-deploy-tool --second");
      expect(b.id).not.toBe(a.id);
      await sleep(300);
      expect(second.stdout() + second.stderr()).not.toMatch(/approved|not found/);
      await decideApproval(b.id, "deny");
      expect(await second.done).toBe(126);
      expect(second.stderr()).toMatch(/denied/);

      // the very command that was approved, again on a new channel
      const again = await ssh2Exec(client, "my-deploy-tool --first");
      const c = await pendingApproval("my-deploy-tool --first");
      expect(c.id).not.toBe(a.id);
      await decideApproval(c.id, "deny");
      expect(await again.done).toBe(126);
    } finally {
      client.end();
    }
    const events = await recorded(await newSession(known));
    const requests = events.filter((e) => e.kind === "request");
    expect(requests.map((e) => e.payload.text)).toEqual(["my-deploy-tool --first", "my-deploy-tool --second", "my-deploy-tool --first"]);
    const held = ofKind(events, "held");
    expect(held.map((h) => h.requestSeq)).toEqual(requests.map((e) => e.seq));
    expect(new Set(held.map((h) => h.approvalId)).size).toBe(3);
    expect(ofKind(events, "result").filter((p) => p.denied).map((p) => p.requestSeq)).toEqual([requests[1].seq, requests[2].seq]);
  });

  it("an env request after a held exec is refused: the approved command runs with the environment it was asked with", async () => {
    const line = "printenv LANG; my-deploy-tool --env";
    const client = await ssh2Connect(gw());
    try {
      const run = await ssh2Exec(client, line, { env: { LANG: "C.UTF-8" } as unknown as NodeJS.ProcessEnv });
      const a = await pendingApproval(line);
      expect(await ssh2ChannelRequest(run.channel, { type: "env", key: "LANG", value: "xx_EVIL.UTF-8" }, 1500)).toBe("failure");
      await decideApproval(a.id, "approve");
      await run.done;
      expect(run.stdout()).toBe("C.UTF-8\n");
    } finally {
      client.end();
    }
  });

  it("a compound exec line with one held part is held whole: nothing in it runs before the decision", async () => {
    const file = `/tmp/gh-escape-${process.pid}-${Date.now()}`;
    const line = `echo ran > ${file}; my-deploy-tool`;
    const known = await sessionIds();
    const run = sshExec(gw(), line);
    const a = await pendingApproval(line);
    await sleep(300);
    expect(fs.existsSync(file)).toBe(false);
    await decideApproval(a.id, "deny");
    const r = await run;
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/held for approval/);
    expect(r.stderr).toMatch(/denied/);
    expect(fs.existsSync(file)).toBe(false);
    const events = await recorded(await newSession(known));
    expect(ofKind(events, "request")).toEqual([expect.objectContaining({ action: "exec", kind: "unknown", text: line })]);
    expect(ofKind(events, "term.start")).toEqual([]);
  });

  // Last: a gateway that fell over here would fail everything after it. ssh2 hands out no channel
  // for a second request on a started session channel and disables its reject(); the gateway
  // answers CHANNEL_FAILURE itself (RFC 4254 5.4) and starts nothing.
  it("a second exec, shell or subsystem request on a running channel gets CHANNEL_FAILURE, runs nothing; the gateway keeps serving", async () => {
    const logFrom = gh.output().length;
    const known = await sessionIds();
    const client = await ssh2Connect(gw());
    try {
      const run = await ssh2Exec(client, "cat");
      const replies = await Promise.all([
        ssh2ChannelRequest(run.channel, { type: "exec", command: "echo second" }, 1500),
        ssh2ChannelRequest(run.channel, { type: "shell" }, 1500),
        ssh2ChannelRequest(run.channel, { type: "subsystem", name: "sftp" }, 1500),
      ]);
      expect(replies).toEqual(["failure", "failure", "failure"]);
      run.channel.end("only-cat\n");
      expect(await run.done).toBe(0);
      expect(run.stdout()).toBe("only-cat\n");
      expect(run.stderr()).toBe("");
    } finally {
      client.end();
    }
    expect(gh.proc.exitCode).toBe(null);
    expect(gh.output().slice(logFrom)).not.toMatch(/unhandledRejection|TypeError/);
    const events = await recorded(await newSession(known));
    expect(ofKind(events, "term.start").map((p) => p.command)).toEqual(["cat"]);
    expect(ofKind(events, "sftp")).toEqual([]);
    expect(output(events)).toBe("only-cat\n");
    const after = await sshExec(gw(), "echo alive");
    expect(after.stdout).toBe("alive\n");
  });
});
