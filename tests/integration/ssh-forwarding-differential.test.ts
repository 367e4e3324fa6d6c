import { execFileSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addConnection, addUser, putPolicies, sshUpstream } from "../support/api-fixture";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { freePort } from "../support/ports";
import { authOptions, COMMON_OPTIONS, spawnClient, type SshTarget } from "../support/ssh-client";
import { stopClient, tcpExchange, tcpTarget, untilListening, watchRun, type ForwardRun as Run } from "../support/ssh-forward";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * Differential test of the SSH gateway's port and agent forwarding when policy permits it
 * (lib/gateway/protocols/ssh/forward.ts, agent-forward.ts): the same real OpenSSH client does the
 * same thing against the same real OpenSSH sshd twice, once directly and once through Gatehouse,
 * and what the user gets must be the same — the bytes through the forward each way, half-closes,
 * closes, what a SOCKS client reads, ssh's exit status and what it prints on stderr. Policy
 * permits everything (the `forward` action included) and the user is a person: nothing is held,
 * denied or masked, so any difference is the gateway's.
 *
 * Covered: `-L` (20 MB each way, half-close in both directions, 20 connections at once through
 * one forward, a target nobody listens on), `-R` (a fixed port, port 0 and its "Allocated port"
 * message, a port already in use with and without ExitOnForwardFailure), `-D` (SOCKS5 and SOCKS4,
 * to the echo server and to a refused port), `-W` (bytes, EOF, exit status, refused target) and
 * `-A` (`ssh-add -l` on the host, and the forwarded agent used to log in from the host to itself).
 * Each side must leave nothing behind: no remote-forward listener once its session ended
 * (`ss -ltn`), no agent socket left on the host.
 *
 * ssh runs with LogLevel=INFO here (the other differential tests use ERROR), as that is the level
 * at which it reports a failed channel open, an allocated remote port and a refused remote forward.
 *
 * Normalizations (all of them):
 *  - login: direct logs in as the sshd account with its key, the gateway as the connection "box"
 *    with a Gatehouse token. Host keys differ; the client checks neither.
 *  - port numbers in ssh's stderr: each side forwards from its own local port and (for a fixed
 *    `-R`) listens on its own remote port, so each such number is replaced by its role
 *    (`<local>`, `<remote>`); an allocated port (`-R 0`) by `<allocated>`. The target ports are
 *    the same on both sides and are not normalized.
 *  - channel numbers in ssh's stderr ("channel 2: open failed"): ssh numbers its channels in the
 *    order it opens them, which is the same here, but the number says nothing about semantics.
 *  - ssh's "Warning: Permanently added '[127.0.0.1]:PORT' (ED25519) to the list of known hosts."
 *    (LogLevel INFO, no known-hosts file) is dropped: it names each side's own host and port.
 *  - "Killed by signal 15." from stopping a `-N` client is kept: the same on both sides.
 *
 * Differences found, all the gateway's (forward.ts; regressions below, each fails without its fix):
 *  - a forward whose target refused the connection was refused to the client with ssh2's bare
 *    reject(): "open failed: connect failed: " with no text, where sshd says "connect failed:
 *    Connection refused" (-L, -D, -W). The upstream's reason code and text are now passed on.
 *  - a forwarded connection could not half-close: ssh2 sends CLOSE right after EOF when a server
 *    channel's write side ends, so when the target (-L) or the host-side client (-R) shut only its
 *    write side, the user's ssh closed the whole connection and what it still had to send the
 *    other way was lost (an -R echo returned ~190 kB of 2 MB). EOF is now passed on as EOF alone.
 *  - when one side of a forwarded connection closed, the other was closed at once, dropping what
 *    the gateway still held for it past the peer's window (-L: 19 of 20 MB came back). It is now
 *    closed once that went out, as sshd drains a channel before closing it.
 * Intended differences: none with policy permitting everything. OpenSSH behaviour both sides
 * share, asserted as such: `ssh -W` ends the stdio forward at the target's EOF (no half-close,
 * what stdin still holds is not sent); a SOCKS client whose target refuses gets no SOCKS reply,
 * only the close (ssh answers a SOCKS request once the channel opened). A reset instead of a
 * clean close there is not compared: it depends on whether ssh read the client's last bytes.
 */
const POLICY = `
@id("allow-everything")
permit (principal, action, resource);
`;

type Side = "direct" | "gateway";
const SIDES: Side[] = ["direct", "gateway"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
// LogLevel INFO: what ssh reports about forwards (open failures, allocated ports) is INFO.
const OPTIONS = COMMON_OPTIONS.map((o) => (o === "LogLevel=ERROR" ? "LogLevel=INFO" : o));


describe("SSH gateway vs direct sshd: port and agent forwarding permitted by policy", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let member = "";
  let echo: Awaited<ReturnType<typeof tcpTarget>>;
  let tmp = "";
  const running = new Set<ChildProcess>();

  const targetOf = (side: Side): SshTarget => (side === "direct" ? { port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath } : { port: gh.ports.ssh, user: "box", password: member });

  /** `ssh [args] user@host [-- command]` on one side, left running; stdin ended at once unless `keepStdin`. */
  function ssh(side: Side, args: string[], opts: { command?: string; input?: Buffer | string; keepStdin?: boolean; env?: Record<string, string> } = {}): Run {
    const t = targetOf(side);
    const argv = ["-p", String(t.port), ...OPTIONS, ...authOptions(t), ...args, `${t.user}@127.0.0.1`, ...(opts.command !== undefined ? ["--", opts.command] : [])];
    return watchRun(spawnClient("ssh", argv, t, { env: opts.env }), running, opts);
  }

  /** Stops a `-N` client (SIGTERM to ssh itself), and gives what it printed and returned. */
  async function finish(r: Run) {
    await stopClient(r.child);
    return { code: await r.exited, stderr: r.stderr(), stdout: r.stdout() };
  }

  /** ssh's stderr with each side's own numbers named by role, and channel numbers dropped. */
  const norm = (text: string, names: Record<number, string>) => {
    let s = text.replace(/\bchannel \d+:/g, "channel N:");
    for (const [n, name] of Object.entries(names)) s = s.replace(new RegExp(`\\b${n}\\b`, "g"), name);
    return s;
  };

  /** `ssh -N -L local:127.0.0.1:targetPort` on one side, once it listens. */
  async function localForward(side: Side, targetPort: number, flag: "-L" | "-D" = "-L") {
    const local = await freePort();
    const spec = flag === "-L" ? `127.0.0.1:${local}:127.0.0.1:${targetPort}` : `127.0.0.1:${local}`;
    const run = ssh(side, ["-N", "-o", "ExitOnForwardFailure=yes", flag, spec]);
    if (!(await untilListening(local, true))) throw new Error(`${side}: ssh ${flag} never listened:\n${run.stderr()}`);
    return { local, run };
  }

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await putPolicies(gh, admin, POLICY, "forwarding differential: permit everything");
    member = await addUser(gh, admin, "fwd-diff@example.test");
    await addConnection(gh, admin, "box", sshUpstream(sshd));
    echo = await tcpTarget({ echo: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gh-fwd-diff-"));
  }, 120_000);

  afterAll(async () => {
    for (const c of running) await stopClient(c);
    await echo?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    await teardown(gh, sshd);
  });

  // Regression: the gateway closed the client's channel as soon as the host closed its own,
  // dropping what it still held for the client (19 of 20 MB came back).
  it("-L: 20 MB each way through an echo target arrive whole (sha256)", async () => {
    const payload = randomBytes(20 * 1024 * 1024);
    const results = await Promise.all(
      SIDES.map(async (side) => {
        const { local, run } = await localForward(side, echo.port);
        const r = await tcpExchange(local, payload);
        return { ...r, ssh: await finish(run), local };
      }),
    );
    for (const [i, r] of results.entries()) {
      expect(r.closedWithin, SIDES[i]).toBe(true);
      expect(r.received.length, SIDES[i]).toBe(payload.length);
      expect(sha(r.received), SIDES[i]).toBe(sha(payload));
    }
    const [d, g] = results;
    expect(norm(g.ssh.stderr, { [g.local]: "<local>" })).toBe(norm(d.ssh.stderr, { [d.local]: "<local>" }));
    expect(g.ssh.code).toBe(d.ssh.code);
  }, 60_000);

  // Regression: the target's EOF reached the client as EOF and CLOSE; the client then sent nothing more.
  it("-L half-close: the client's EOF reaches the target, which still answers; the target's EOF reaches the client, which still sends", async () => {
    // The target reads to EOF, then answers with what it got and a tail, then closes.
    const answering = net.createServer({ allowHalfOpen: true }, (s) => {
      const got: Buffer[] = [];
      s.on("data", (d: Buffer) => got.push(d));
      s.on("end", () => s.end(Buffer.concat([Buffer.from(`got ${Buffer.concat(got).length} ${sha(Buffer.concat(got))}\n`), Buffer.alloc(300_000, 0x61)])));
      s.on("error", () => {});
    });
    // The target greets and shuts its write side at once, then counts what still comes.
    const counted: number[] = [];
    const greeting = net.createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.end("BYE-FROM-TARGET\n");
      s.on("data", (d: Buffer) => (n += d.length));
      s.on("end", () => (counted.push(n), s.destroy()));
      s.on("error", () => {});
    });
    await Promise.all([answering, greeting].map((srv) => new Promise<void>((r) => srv.listen(0, "127.0.0.1", r))));
    const portOf = (srv: net.Server) => (srv.address() as net.AddressInfo).port;
    try {
      const sent = randomBytes(100_000);
      const afterEof = Buffer.alloc(50_000, 0x62);
      const oneSide = async (side: Side) => {
        const a = await localForward(side, portOf(answering));
        const answer = await tcpExchange(a.local, sent);
        await finish(a.run);
        const b = await localForward(side, portOf(greeting));
        const before = counted.length;
        // the target's EOF first, then our bytes: our write side must still carry them
        const greeted = await tcpExchange(b.local, afterEof, { prelude: (s) => new Promise<void>((r) => s.once("end", () => r())) });
        // our socket closed once both its halves ended; the target counts when its EOF arrives
        for (let i = 0; i < 250 && counted.length === before; i++) await sleep(20);
        await finish(b.run);
        return { answer, greeted };
      };
      // one side after the other: `counted` is in side order
      const results = [await oneSide("direct"), await oneSide("gateway")];
      const [d, g] = results;
      expect(d.answer.closedWithin).toBe(true);
      expect(d.answer.received.toString("latin1")).toBe(`got ${sent.length} ${sha(sent)}\n${"a".repeat(300_000)}`);
      expect(g.answer).toEqual(d.answer);
      expect(d.greeted).toEqual({ received: Buffer.from("BYE-FROM-TARGET\n"), closedWithin: true });
      expect(g.greeted).toEqual(d.greeted);
      expect(counted).toEqual([afterEof.length, afterEof.length]);
    } finally {
      await Promise.all([answering, greeting].map((srv) => new Promise((r) => srv.close(r))));
    }
  }, 60_000);

  it("-L: 20 connections at once through one forward each keep their own bytes", async () => {
    const payloads = Array.from({ length: 20 }, (_, k) => Buffer.concat([Buffer.from(`conn-${k}:`), randomBytes(100_000 + k * 7919)]));
    for (const side of SIDES) {
      const before = echo.connections();
      const { local, run } = await localForward(side, echo.port);
      const all = await Promise.all(payloads.map((p) => tcpExchange(local, p)));
      for (const [k, r] of all.entries()) {
        expect(r.closedWithin, `${side} connection ${k}`).toBe(true);
        expect(sha(r.received), `${side} connection ${k}`).toBe(sha(payloads[k]));
      }
      expect(echo.connections() - before, side).toBe(payloads.length);
      const out = await finish(run);
      expect(out.stderr, side).not.toMatch(/open failed|error/i);
    }
  }, 60_000);

  // Regression: the gateway refused the channel with ssh2's bare reject(), "connect failed" with
  // no text; sshd says "connect failed: Connection refused".
  it("-L to a port nobody listens on: the local client is closed at once; ssh says why, as with sshd", async () => {
    const nobody = await freePort();
    const results = await Promise.all(
      SIDES.map(async (side) => {
        const { local, run } = await localForward(side, nobody);
        const r = await tcpExchange(local, Buffer.from("anyone there?\n"));
        // ssh prints the failure once the open failed; the socket is closed then too
        for (let i = 0; i < 100 && !/open failed/.test(run.stderr()); i++) await sleep(20);
        return { ...r, ssh: await finish(run), local };
      }),
    );
    const [d, g] = results;
    expect(d.closedWithin).toBe(true);
    expect(d.received.length).toBe(0);
    expect(g.closedWithin).toBe(true);
    expect(g.received.length).toBe(0);
    expect(norm(d.ssh.stderr, { [d.local]: "<local>" })).toMatch(/^channel N: open failed: connect failed: Connection refused\r\n/);
    expect(norm(g.ssh.stderr, { [g.local]: "<local>" })).toBe(norm(d.ssh.stderr, { [d.local]: "<local>" }));
    expect(g.ssh.code).toBe(d.ssh.code);
  });

  /** `ssh -N -R spec` on one side, left running. */
  const remoteForward = (side: Side, spec: string, args: string[] = []) => ssh(side, ["-N", ...args, "-R", spec]);

  // Regression: the host-side client's EOF reached the user's ssh with a CLOSE, and the echo's
  // answer still on its way back was dropped (about 190 kB of 2 MB came back).
  it("-R with a fixed port: bytes both ways; nothing listens once the session ended", async () => {
    const results = await Promise.all(
      SIDES.map(async (side) => {
        const remote = await freePort();
        const run = remoteForward(side, `${remote}:127.0.0.1:${echo.port}`, ["-o", "ExitOnForwardFailure=yes"]);
        expect(await untilListening(remote, true), `${side}: the host never listened on ${remote}:\n${run.stderr()}`).toBe(true);
        const payload = randomBytes(2 * 1024 * 1024);
        const r = await tcpExchange(remote, payload);
        const out = await finish(run);
        return { ok: r.closedWithin && sha(r.received) === sha(payload), out, remote, gone: await untilListening(remote, false, 10_000) };
      }),
    );
    for (const [i, r] of results.entries()) {
      expect(r.ok, SIDES[i]).toBe(true);
      expect(r.gone, `${SIDES[i]}: port ${r.remote} still listened on after the session ended`).toBe(true);
    }
    const [d, g] = results;
    expect(norm(g.out.stderr, { [g.remote]: "<remote>" })).toBe(norm(d.out.stderr, { [d.remote]: "<remote>" }));
    expect(g.out.code).toBe(d.out.code);
  });

  it("-R with port 0: the allocated port is told on stderr, carries bytes both ways, and is gone after", async () => {
    const results = await Promise.all(
      SIDES.map(async (side) => {
        const run = remoteForward(side, `0:127.0.0.1:${echo.port}`, ["-o", "ExitOnForwardFailure=yes"]);
        let port = 0;
        for (let i = 0; i < 300 && !port; i++, await sleep(50)) port = Number(/Allocated port (\d+) for remote forward/.exec(run.stderr())?.[1] ?? 0);
        expect(port, `${side}: no allocated port:\n${run.stderr()}`).toBeGreaterThan(0);
        const listened = await untilListening(port, true, 5000);
        const payload = randomBytes(1024 * 1024);
        const r = await tcpExchange(port, payload);
        const out = await finish(run);
        // what came back, should it not be the payload (seen once in ~20 runs, not reproduced since)
        const got = `${r.received.length} bytes, closed ${r.closedWithin}, error ${r.error ?? "none"}, ssh: ${out.code} ${JSON.stringify(out.stderr)}`;
        return { listened, ok: r.closedWithin && sha(r.received) === sha(payload), got, out, port, gone: await untilListening(port, false, 10_000) };
      }),
    );
    for (const [i, r] of results.entries()) {
      expect(r.listened, SIDES[i]).toBe(true);
      expect(r.ok, `${SIDES[i]}: ${r.got}`).toBe(true);
      expect(r.gone, `${SIDES[i]}: port ${r.port} still listened on after the session ended`).toBe(true);
    }
    const [d, g] = results;
    expect(norm(d.out.stderr, { [d.port]: "<allocated>" })).toMatch(new RegExp(`^Allocated port <allocated> for remote forward to 127\\.0\\.0\\.1:${echo.port}\\r\\n`));
    expect(norm(g.out.stderr, { [g.port]: "<allocated>" })).toBe(norm(d.out.stderr, { [d.port]: "<allocated>" }));
    expect(g.out.code).toBe(d.out.code);
  });

  it("-R on a port already in use: the warning, the command still runs; with ExitOnForwardFailure, the error and 255", async () => {
    // Held on every address (dual-stack), so that sshd's bind of "localhost" fails on all of them.
    const blocker = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => {
      blocker.once("error", () => blocker.listen({ port: 0, host: "127.0.0.1" }, resolve)); // no IPv6 here: "localhost" is 127.0.0.1 alone
      blocker.listen({ port: 0, host: "::", ipv6Only: false }, resolve);
    });
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      for (const exitOnFailure of [false, true]) {
        const args = ["-T", ...(exitOnFailure ? ["-o", "ExitOnForwardFailure=yes"] : []), "-R", `${busy}:127.0.0.1:${echo.port}`];
        const [d, g] = await Promise.all(
          SIDES.map(async (side) => {
            const run = ssh(side, args, { command: "echo ran" });
            return { code: await run.exited, stdout: run.stdout().toString(), stderr: run.stderr() };
          }),
        );
        if (exitOnFailure) {
          expect(d.code).toBe(255);
          expect(d.stderr).toMatch(new RegExp(`Error: remote port forwarding failed for listen port ${busy}`));
        } else {
          expect(d).toMatchObject({ code: 0, stdout: "ran\n" });
          expect(d.stderr).toMatch(new RegExp(`Warning: remote port forwarding failed for listen port ${busy}`));
        }
        expect(g).toEqual(d);
      }
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  /** SOCKS handshakes as bytes: what the client reads back, through to the target's echo. */
  const socks5 = (port: number) => ({ hello: Buffer.from([5, 1, 0]), connect: Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 255]) });
  const socks4 = (port: number) => Buffer.from([4, 1, port >> 8, port & 255, 127, 0, 0, 1, 0]);

  async function throughSocks(local: number, version: 4 | 5, targetPort: number, payload: Buffer) {
    return tcpExchange(local, payload, {
      prelude: async (s, read) => {
        if (version === 5) {
          s.write(socks5(targetPort).hello);
          let got = Buffer.alloc(0);
          for (let i = 0; i < 250 && got.length < 2; i++, await sleep(20)) got = Buffer.concat([got, read()]);
          if (!got.equals(Buffer.from([5, 0]))) throw new Error(`SOCKS5 method reply ${got.toString("hex")}`);
          s.write(socks5(targetPort).connect);
        } else s.write(socks4(targetPort));
      },
    });
  }

  it("-D: SOCKS5 and SOCKS4 CONNECT to the echo target and to a refused port read the same bytes", async () => {
    const nobody = await freePort();
    const payload = randomBytes(300_000);
    const results = await Promise.all(
      SIDES.map(async (side) => {
        const { local, run } = await localForward(side, 0, "-D");
        const out = [];
        for (const version of [5, 4] as const) {
          out.push(await throughSocks(local, version, echo.port, payload));
          out.push(await throughSocks(local, version, nobody, Buffer.from("x")));
        }
        for (let i = 0; i < 100 && (run.stderr().match(/open failed/g) ?? []).length < 2; i++) await sleep(20);
        return { out, ssh: await finish(run), local };
      }),
    );
    const [d, g] = results;
    // the SOCKS reply, then the echo; for a refused target, the connection just closes
    const v5ok = Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    const v4ok = Buffer.from([0, 90, 0, 0, 0, 0, 0, 0]);
    expect(d.out[0].received.subarray(0, v5ok.length)).toEqual(v5ok);
    expect(sha(d.out[0].received.subarray(v5ok.length))).toBe(sha(payload));
    expect(d.out[2].received.subarray(0, v4ok.length)).toEqual(v4ok);
    expect(sha(d.out[2].received.subarray(v4ok.length))).toBe(sha(payload));
    // a refused target: no SOCKS reply at all, the connection is just closed (whether with a
    // reset depends on whether ssh had read our last byte yet: not compared)
    expect(d.out[1]).toMatchObject({ received: Buffer.alloc(0), closedWithin: true });
    expect(d.out[3]).toMatchObject({ received: Buffer.alloc(0), closedWithin: true });
    for (const [k, r] of g.out.entries()) {
      expect(r.closedWithin, `gateway case ${k}`).toBe(true);
      expect(r.received.toString("hex"), `case ${k}`).toBe(d.out[k].received.toString("hex"));
    }
    expect(d.ssh.stderr).toMatch(/open failed: connect failed: Connection refused/);
    expect(norm(g.ssh.stderr, { [g.local]: "<local>" })).toBe(norm(d.ssh.stderr, { [d.local]: "<local>" }));
    expect(g.ssh.code).toBe(d.ssh.code);
  });

  it("-W: stdin to the target and its answer to stdout, EOF both ways, exit status; a refused target", async () => {
    const hello = await tcpTarget(); // greets and closes
    // greets and shuts only its write side, then counts what still comes until our EOF
    const counted: number[] = [];
    const halfClosing = net.createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.end("BYE-FROM-TARGET\n");
      s.on("data", (d: Buffer) => (n += d.length));
      s.on("end", () => (counted.push(n), s.destroy()));
      s.on("error", () => {});
    });
    await new Promise<void>((r) => halfClosing.listen(0, "127.0.0.1", r));
    const halfPort = (halfClosing.address() as net.AddressInfo).port;
    const nobody = await freePort();
    const names = { [echo.port]: "<echo>", [hello.port]: "<hello>", [halfPort]: "<half-closing>", [nobody]: "<nobody>" };
    try {
      const payload = randomBytes(3 * 1024 * 1024);
      const afterEof = Buffer.alloc(20_000, 0x63);
      // input: written, then stdin ended; keepStdin: left open (the target closes first);
      // afterEof: left open until the target's EOF reached stdout, then this, then ended.
      const cases: { to: number; input?: Buffer; keepStdin?: boolean; afterEof?: Buffer }[] = [
        { to: echo.port, input: payload },
        { to: echo.port, input: Buffer.alloc(0) },
        { to: hello.port },
        { to: hello.port, keepStdin: true },
        { to: halfPort, keepStdin: true, afterEof },
        { to: nobody },
      ];
      for (const c of cases) {
        const [d, g] = await Promise.all(
          SIDES.map(async (side) => {
            const run = ssh(side, ["-W", `127.0.0.1:${c.to}`], { input: c.input, keepStdin: c.keepStdin });
            if (c.afterEof) {
              await new Promise<void>((r) => run.child.stdout!.once("end", () => r()));
              run.child.stdin!.end(c.afterEof);
            }
            return { code: await run.exited, stdout: sha(run.stdout()), stdoutLength: run.stdout().length, stderr: norm(run.stderr(), {}) };
          }),
        );
        const what = `-W ${names[c.to]} ${JSON.stringify({ ...c, to: undefined, input: c.input?.length, afterEof: c.afterEof?.length })}`;
        if (c.input?.length) expect(d.stdout, what).toBe(sha(payload));
        if (c.to === hello.port) expect(d.stdoutLength, what).toBe("TARGET-HELLO\n".length);
        if (c.to === nobody) {
          expect(d.code).toBe(255);
          expect(d.stderr).toBe("channel N: open failed: connect failed: Connection refused\r\nstdio forwarding failed\r\n");
        } else expect(d.code, what).toBe(0);
        expect(g, what).toEqual(d);
      }
      // ssh -W ends the stdio forward at the target's EOF (unlike -L, it does not half-close):
      // what stdin still had is not sent, directly or through the gateway.
      for (let i = 0; i < 250 && counted.length < 2; i++) await sleep(20);
      expect(counted).toEqual([0, 0]);
    } finally {
      await hello.close();
      await new Promise((r) => halfClosing.close(r));
    }
  });

  it("-A: the host sees the same agent (ssh-add -l, -L), can log in with it, and keeps no agent socket after", async () => {
    const sock = path.join(tmp, "agent.sock");
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(execFileSync("ssh-agent", ["-a", sock], { encoding: "utf8" }))![1]);
    try {
      const key = path.join(tmp, "agent-key");
      execFileSync("ssh-keygen", ["-q", "-N", "", "-t", "ed25519", "-C", "in-the-agent", "-f", key]);
      execFileSync("ssh-add", ["-q", key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
      // The agent's key may log in to the host: the forwarded agent logs the host in to itself.
      sshd.authorizeKey(fs.readFileSync(`${key}.pub`, "utf8"));
      const hop = `ssh -F none -p ${sshd.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -o PreferredAuthentications=publickey ${sshd.user}@127.0.0.1 echo hopped-as-'$(id -un)'`;
      const command = `echo "sock=$SSH_AUTH_SOCK" >&2; ssh-add -l; echo "rc=$?"; ssh-add -L; ${hop}; echo "hop=$?"`;
      const [d, g] = await Promise.all(
        SIDES.map(async (side) => {
          const run = ssh(side, ["-A", "-T"], { command, env: { SSH_AUTH_SOCK: sock } });
          const code = await run.exited;
          const agentSock = /^sock=(\S*)$/m.exec(run.stderr())?.[1] ?? "";
          return { code, stdout: run.stdout().toString(), stderr: run.stderr().replace(/^sock=\S*\n/m, ""), agentSock };
        }),
      );
      const fingerprint = execFileSync("ssh-keygen", ["-l", "-f", `${key}.pub`], { encoding: "utf8" }).trim();
      const publicKey = fs.readFileSync(`${key}.pub`, "utf8").trim();
      expect(d.stdout).toBe(`${fingerprint}\nrc=0\n${publicKey}\nhopped-as-${sshd.user}\nhop=0\n`);
      expect({ ...g, agentSock: null }).toEqual({ ...d, agentSock: null });
      // sshd made each side an agent socket on the host and removes it with the session
      for (const [side, r] of [["direct", d], ["gateway", g]] as const) {
        expect(r.agentSock, side).toMatch(/^\/tmp\/ssh-\w+\/agent\.\d+$/);
        let left = true;
        for (let i = 0; i < 100 && (left = fs.existsSync(r.agentSock)); i++) await sleep(50);
        expect(left, `${side}: ${r.agentSock} left on the host`).toBe(false);
      }
    } finally {
      process.kill(agentPid);
    }
  });
});
