import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import fc from "fast-check";
import type { ClientChannel, ExecOptions, PseudoTtyOptions } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addConnection, addUser, putPolicies, sshUpstream } from "../support/api-fixture";
import { authOptions, COMMON_OPTIONS, spawnClient, ssh2Connect, type Ssh2Client, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * Differential test of the SSH gateway's exec and shell channels: every case runs against the
 * same real OpenSSH sshd twice, once directly and once through Gatehouse, and what the user sees
 * must be the same — exit status or signal, stdout and stderr byte for byte, EOF and close, stdin
 * delivered and its EOF propagated. Policy permits everything and the user is a person (the
 * default policies mask only agents; here no @mask permit exists at all), so nothing is held,
 * denied or masked, and any difference is the gateway's.
 *
 * Clients: the real `ssh` (what users run: its exit code and what it prints) and the ssh2 Client
 * library (channel-level: the exit-status / exit-signal message itself, EOF before close).
 *
 * Normalizations (all of them):
 *  - login: direct logs in as the sshd account with its key or password, the gateway as the
 *    connection "box" with a Gatehouse token. Host keys differ; the client checks neither.
 *  - stderr of the `ssh` client is compared after dropping lines `ssh` prints about the
 *    connection itself ("Connection to … closed."; LogLevel=ERROR keeps banners/warnings out).
 *    Gatehouse adds nothing on stderr when everything is allowed: the remote stderr is compared
 *    unchanged.
 *  - env requests: the gateway forwards only LANG, LC_[A-Z]+, TERM, COLORTERM and TZ whatever
 *    the upstream's AcceptEnv says (connection.ts ENV_ALLOWED: an env variable such as BASH_ENV
 *    or LD_PRELOAD changes what an approved command runs), so GH_FOO, which this sshd accepts
 *    (AcceptEnv LANG LC_* GH_*), is refused; so are LC_ names sshd's LC_* takes and the allowlist
 *    does not (LC_TERMINAL_VERSION, lower case). Asserted as an intended difference.
 *  - a pty requested with an empty TERM: the command sees sshd's default directly, "xterm"
 *    through the gateway (ssh2 cannot send an empty TERM).
 *  - exit-status is compared by value, not by its place among the channel's messages: sshd
 *    sends it when it reaps the child, which races the last output and EOF, and so does the
 *    gateway's relay of it. Data, then EOF, then close is compared in order.
 * A signal request sent before the command started is not compared (see its test).
 */
const POLICY = `
@id("allow-everything")
permit (principal, action, resource);
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** ssh2 types its env option as the whole process environment; it sends exactly what it is given. */
const envOf = (vars: Record<string, string>) => vars as unknown as NodeJS.ProcessEnv;

interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** What one ssh2 channel showed: its events in order (data runs merged), the bytes, the exit message. */
interface ChannelResult {
  stdout: Buffer;
  stderr: Buffer;
  exit: { code: number | null; signal?: string; dump?: boolean } | null;
  /** "out" / "err" per chunk, then "eof", "exit", "close" as they came */
  events: string[];
}

describe("SSH gateway vs direct sshd: exec and shell channel semantics", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let member = "";
  const clients: Ssh2Client[] = [];

  const gw = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: member });
  const direct = (): SshTarget => ({ port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath });
  const directPw = (): SshTarget => ({ port: sshd.port, user: sshd.user, password: sshd.password });
  const sides = () => ({ direct: direct(), gateway: gw() });

  /** The real `ssh` client with binary-safe output; `stdin` "closed" is /dev/null-like (ended at once). */
  function ssh(t: SshTarget, command: string, opts: { input?: Buffer | string; tty?: boolean; extraArgs?: string[]; keepStdinOpen?: boolean; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
    const args = ["-p", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), opts.tty ? "-tt" : "-T", ...(opts.extraArgs ?? []), `${t.user}@127.0.0.1`, "--", command];
    const child = spawnClient("ssh", args, t, { env: opts.env });
    const out: Buffer[] = [];
    let err = "";
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.stdin!.on("error", () => {});
    if (opts.input !== undefined) child.stdin!.write(opts.input);
    if (!opts.keepStdinOpen) child.stdin!.end();
    return new Promise((resolve) => {
      // a liveness bound, far from any outcome: a hang shows as code null
      const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 40_000);
      child.once("close", (code) => {
        clearTimeout(timer);
        child.stdin!.destroy();
        resolve({ code, stdout: Buffer.concat(out), stderr: err });
      });
    });
  }

  /** `ssh` on both sides; stderr without the client's own connection notes. */
  async function both(command: string, opts: Parameters<typeof ssh>[2] = {}) {
    const [d, g] = await Promise.all([ssh(direct(), command, opts), ssh(gw(), command, opts)]);
    const clean = (s: string) => s.replace(/^Connection to \S+ closed\.\r?\n/gm, "");
    return { direct: { ...d, stderr: clean(d.stderr) }, gateway: { ...g, stderr: clean(g.stderr) } };
  }

  async function connect(t: SshTarget): Promise<Ssh2Client> {
    const c = await ssh2Connect(t);
    clients.push(c);
    return c;
  }

  /** One exec (or shell) channel on `client`, observed to its close. `drive` acts on the open channel. */
  function channel(client: Ssh2Client, command: string | { shell: PseudoTtyOptions | false }, opts: ExecOptions = {}, drive: (ch: ClientChannel) => void = (ch) => ch.end()): Promise<ChannelResult> {
    return new Promise((resolve, reject) => {
      const onChannel = (err: Error | undefined, ch: ClientChannel) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        const events: string[] = [];
        const note = (e: string) => events.push(e);
        let exit: ChannelResult["exit"] = null;
        ch.on("data", (d: Buffer) => (out.push(d), note("out")));
        ch.stderr.on("data", (d: Buffer) => (errs.push(d), note("err")));
        ch.on("end", () => note("eof"));
        ch.on("exit", (code: number | null, signal?: string, dump?: boolean) => {
          exit = signal ? { code, signal, dump } : { code };
          note("exit");
        });
        const timer = setTimeout(() => reject(new Error(`channel ${JSON.stringify(command)} did not close in 40 s; events ${events.join(",")}`)), 40_000);
        ch.on("close", () => {
          clearTimeout(timer);
          note("close");
          resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(errs), exit, events });
        });
        drive(ch);
      };
      if (typeof command === "string") client.exec(command, opts, onChannel);
      else if (command.shell) client.shell(command.shell, opts, onChannel);
      else client.shell(false, opts, onChannel);
    });
  }

  /**
   * The same channel directly and through the gateway, on one connection per side made once.
   * Events are compared as the order a client relies on: data of each stream, then EOF, then close;
   * exit-status may come before or after trailing data (OpenSSH's sshd sends it when the child is
   * reaped, which races the last reads of its pipes), so it is checked for presence, not position.
   */
  let conn: { direct: Ssh2Client; gateway: Ssh2Client };
  async function bothChannels(command: Parameters<typeof channel>[1], opts: ExecOptions = {}, drive?: (ch: ClientChannel) => void) {
    const [d, g] = await Promise.all([channel(conn.direct, command, opts, drive), channel(conn.gateway, command, opts, drive)]);
    return { direct: d, gateway: g };
  }
  const shape = (r: ChannelResult) => merged(r.events.filter((e) => e !== "exit" && e !== "err")).join(",");
  function expectSame(r: { direct: ChannelResult; gateway: ChannelResult }) {
    expect(r.gateway.exit).toEqual(r.direct.exit);
    expect(r.gateway.stderr.toString("latin1")).toBe(r.direct.stderr.toString("latin1"));
    expect(sha(r.gateway.stdout)).toBe(sha(r.direct.stdout));
    expect(r.gateway.stdout.length).toBe(r.direct.stdout.length);
    expect(shape(r.gateway)).toBe(shape(r.direct));
  }

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await putPolicies(gh, admin, POLICY, "differential: permit everything");
    member = await addUser(gh, admin, "diff@example.test");
    await addConnection(gh, admin, "box", sshUpstream(sshd));
    conn = { direct: await connect(directPw()), gateway: await connect(gw()) };
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.end();
    await teardown(gh, sshd);
  });

  it("exit statuses 0, 1, 2, 126, 127, 200, 255 (ssh's exit code and ssh2's exit-status)", async () => {
    for (const n of [0, 1, 2, 126, 127, 200, 255]) {
      const r = await both(`exit ${n}`);
      expect(r.direct.code).toBe(n);
      expect(r.gateway).toEqual(r.direct);
      expectSame(await bothChannels(`exit ${n}`));
    }
    // a command that is not there, one that cannot run
    for (const cmd of ["gh-no-such-command-xyz", "/etc/passwd"]) {
      const r = await both(cmd);
      expect(r.gateway).toEqual(r.direct);
      expect([126, 127]).toContain(r.direct.code);
    }
  });

  it("random exit statuses 0–255 on one connection (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 255 }), async (n) => {
        const r = await bothChannels(`exit ${n}`);
        expect(r.direct.exit).toEqual({ code: n });
        expectSame(r);
      }),
      { numRuns: 12 },
    );
  });

  it("exit by signal: exit-signal with the signal's name; what ssh prints and returns", async () => {
    for (const sig of ["TERM", "KILL", "HUP", "INT"]) {
      const cmd = `echo before; kill -${sig} $$; echo after`;
      const r = await bothChannels(cmd);
      expect(r.direct.exit).toMatchObject({ code: null, signal: `SIG${sig}` });
      expectSame(r);
      const cli = await both(cmd);
      expect(cli.direct.code).toBe(255);
      expect(cli.gateway).toEqual(cli.direct);
    }
  });

  it("stdout and stderr stay separate, each in its order", async () => {
    const cmd = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; printf tail-out; printf tail-err >&2";
    const r = await both(cmd);
    expect(r.direct.stdout.toString()).toBe("out1\nout2\nout3\nout4\nout5\ntail-out");
    expect(r.gateway).toEqual(r.direct);
    expectSame(await bothChannels(cmd));
  });

  it("no trailing newline, empty output, only stderr", async () => {
    for (const cmd of ["printf abc", "true", "printf '' ; exit 4", "printf only-err >&2", "printf '\\n\\n\\n'"]) {
      const r = await both(cmd);
      expect(r.gateway).toEqual(r.direct);
      expectSame(await bothChannels(cmd));
    }
  });

  it("binary output: all 256 byte values, byte for byte", async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const cmd = `printf '${[...all].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("")}'`;
    const r = await both(cmd);
    expect(r.direct.stdout.equals(all)).toBe(true);
    expect(r.gateway.stdout.equals(all)).toBe(true);
    expect(r.gateway.code).toBe(r.direct.code);
    const c = await bothChannels(`${cmd}; ${cmd} >&2`);
    expect(c.direct.stderr.equals(all)).toBe(true);
    expectSame(c);
  });

  it("very long single lines (1 MB without a newline, 300 kB with one)", async () => {
    for (const cmd of ["head -c 1000000 /dev/zero | tr '\\0' a", "head -c 300000 /dev/zero | tr '\\0' b; echo", "head -c 200000 /dev/zero | tr '\\0' c >&2"]) {
      const r = await both(cmd);
      expect(r.gateway.code).toBe(r.direct.code);
      expect(sha(r.gateway.stdout)).toBe(sha(r.direct.stdout));
      expect(r.gateway.stderr).toBe(r.direct.stderr);
      expectSame(await bothChannels(cmd));
    }
  });

  it("quotes, unicode and shell metacharacters in the command string", async () => {
    const commands = [
      `printf '%s\\n' "a b" 'c"d' "e'f" $'g\\th' "héllo wörld ☃ 日本語 🎉"`,
      "echo $((6*7)) | cat; echo *gh-no-glob-match*; echo ~ | wc -c; echo \"$0\" >/dev/null",
      "x=1; [ \"$x\" = 1 ] && echo yes || echo no; (echo sub; exit 3); echo $?",
      "echo 'semi;colon' \"pipe|bar\" back\\\\slash 'dollar$sign' \\`tick\\`",
      "cat <<'EOF'\nline one\n  line two \\t\nEOF",
      "echo -n ''; printf '%%s' 100%",
    ];
    for (const cmd of commands) {
      const r = await both(cmd);
      expect(r.direct.code, r.direct.stderr).not.toBeNull();
      expect(r.gateway).toEqual(r.direct);
      expectSame(await bothChannels(cmd));
    }
  });

  it("stdin: cat with stdin closed, cat echoing input, head -c 5 from the client's stdin", async () => {
    let r = await both("cat; echo rc=$?");
    expect(r.direct.stdout.toString()).toBe("rc=0\n");
    expect(r.gateway).toEqual(r.direct);
    r = await both("cat", { input: "one\ntwo\nthree-no-newline" });
    expect(r.direct.stdout.toString()).toBe("one\ntwo\nthree-no-newline");
    expect(r.gateway).toEqual(r.direct);
    r = await both("head -c 5; echo; echo done", { input: "hello world\n" });
    expect(r.direct.stdout.toString()).toBe("hello\ndone\n");
    expect(r.gateway).toEqual(r.direct);
    // ssh2: EOF sent at once (before the gateway has decided and opened the upstream channel)
    expectSame(await bothChannels("cat; echo rc=$?"));
    expectSame(await bothChannels("wc -c", {}, (ch) => ch.end("x".repeat(100_000))));
  });

  it("stdin left open: a command that exits without reading to EOF ends the session anyway", async () => {
    // `ssh` whose stdin stays open (a pipe nobody closes): sshd closes the channel when the command
    // exits, and ssh exits with its status. Through the gateway too, or the user's script hangs.
    const r = await both("head -c 5; exit 7", { input: "hello world\n", keepStdinOpen: true, timeoutMs: 20_000 });
    expect(r.direct.code).toBe(7);
    expect(r.direct.stdout.toString()).toBe("hello");
    expect(r.gateway).toEqual(r.direct);
    const c = await bothChannels("head -c 5; exit 7", {}, (ch) => ch.write("hello world\n"));
    expect(c.direct.exit).toEqual({ code: 7 });
    expectSame(c);
  });

  it("large stdin upload: 20 MB piped to sha256sum arrives whole", async () => {
    const payload = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const want = `${sha(payload)}  -\n`;
    const r = await both("sha256sum", { input: payload, timeoutMs: 60_000 });
    expect(r.direct.stdout.toString()).toBe(want);
    expect(r.gateway).toEqual(r.direct);
  }, 90_000);

  it("random payloads echoed through cat, written in random pieces at random moments (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 70_000 }),
        fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 6, maxLength: 6 }),
        fc.boolean(),
        async (bytes, cuts, pauses, toStderr) => {
          const data = Buffer.from(bytes);
          const pieces: Buffer[] = [];
          let at = 0;
          for (const n of cuts) {
            if (at >= data.length) break;
            pieces.push(data.subarray(at, at + n));
            at += n;
          }
          if (at < data.length) pieces.push(data.subarray(at));
          const drive = (ch: ClientChannel) =>
            void (async () => {
              for (const [i, p] of pieces.entries()) {
                ch.write(p);
                if (pauses[i % pauses.length]) await sleep(pauses[i % pauses.length] * 5);
              }
              ch.end();
            })();
          const r = await bothChannels(toStderr ? "cat >&2; exit 3" : "cat; exit 3", {}, drive);
          expect((toStderr ? r.direct.stderr : r.direct.stdout).equals(data)).toBe(true);
          expectSame(r);
        },
      ),
      { numRuns: 10 },
    );
  });

  it("env requests: what reaches the command (AcceptEnv LANG LC_* GH_* upstream)", async () => {
    const cmd = 'printf "%s|%s|%s|%s\\n" "${LANG-unset}" "${LC_TIME-unset}" "${GH_FOO-unset}" "${FOO-unset}"';
    const args = ["-o", "SetEnv=LANG=C.UTF-8 LC_TIME=POSIX GH_FOO=bar FOO=baz"];
    const r = await both(cmd, { extraArgs: args });
    expect(r.direct.stdout.toString()).toBe("C.UTF-8|POSIX|bar|unset\n");
    // Intended difference: GH_FOO is one the upstream accepts, but the gateway forwards only
    // LANG, LC_*, TERM, COLORTERM and TZ (connection.ts ENV_ALLOWED). The rest is the same.
    expect(r.gateway.stdout.toString()).toBe("C.UTF-8|POSIX|unset|unset\n");
    expect({ ...r.gateway, stdout: null }).toEqual({ ...r.direct, stdout: null });
    const c = await bothChannels(cmd, { env: envOf({ LANG: "C.UTF-8", LC_TIME: "POSIX", FOO: "baz" }) });
    expect(c.direct.stdout.toString()).toBe("C.UTF-8|POSIX|unset|unset\n");
    expectSame(c);
    const lc = await bothChannels('echo "${LC_TERMINAL_VERSION-unset}"', { env: envOf({ LC_TERMINAL_VERSION: "3.5" }) });
    expect(lc.direct.stdout.toString()).toBe("3.5\n");
    expect(lc.gateway.stdout.toString()).toBe("unset\n");
  });

  it("pty exec (ssh -tt): terminal output, exit status, size", async () => {
    const cmd = "tty >/dev/null && echo on-a-tty; stty size; echo err >&2; printf 'a\\nb'; exit 5";
    const r = await both(cmd, { tty: true });
    expect(r.direct.code).toBe(5);
    expect(r.direct.stdout.toString()).toContain("on-a-tty\r\n");
    expect(r.gateway).toEqual(r.direct);
    const c = await bothChannels(cmd, { pty: { rows: 30, cols: 100, term: "xterm" } });
    expect(c.direct.stdout.toString()).toContain("30 100");
    expectSame(c);
  });

  it("window-change on a pty exec reaches the command", async () => {
    const cmd = "stty -echo; read line; stty size; echo got:$line";
    const drive = (ch: ClientChannel) =>
      void (async () => {
        await sleep(300);
        ch.setWindow(40, 132, 0, 0);
        ch.write("go\n");
      })();
    const c = await bothChannels(cmd, { pty: { rows: 24, cols: 80, term: "xterm" } }, drive);
    expect(c.direct.stdout.toString()).toContain("40 132\r\ngot:go");
    expectSame(c);
  });

  it("a shell session driven by ssh2: exit 3 → exit status 3 (no pty and with one)", async () => {
    const noPty = await bothChannels({ shell: false }, {}, (ch) => ch.end("echo in-shell; echo e >&2; exit 3\n"));
    expect(noPty.direct.exit).toEqual({ code: 3 });
    expect(noPty.direct.stdout.toString()).toBe("in-shell\n");
    expectSame(noPty);
    // With a pty the prompt and echo are the shell's: compared as they come, less the exit.
    const pty = await bothChannels({ shell: { rows: 24, cols: 80, term: "dumb" } }, {}, (ch) => ch.write("PS1='$ '; echo in-$((1+1))-shell; exit 3\n"));
    expect(pty.direct.exit).toEqual({ code: 3 });
    expect(pty.direct.stdout.toString()).toContain("in-2-shell");
    expect(pty.gateway.exit).toEqual(pty.direct.exit);
    expect(pty.gateway.stdout.toString()).toContain("in-2-shell");
    expect(shape(pty.gateway)).toBe(shape(pty.direct));
  });

  // Regression: the gateway asked upstream for 80x24 where the client asked for a pty of unknown
  // size (0x0), as `ssh -tt` does from a script: `stty size` said "24 80" instead of "0 0".
  // Intended difference: with TERM empty, sshd gives the command its default ("dumb"), the
  // gateway "xterm" (ssh2 cannot send an empty TERM upstream); TERM is normalized for that alone.
  it("a pty of unknown size is asked upstream as the client asked", async () => {
    const c = await bothChannels("stty size", { pty: { rows: 0, cols: 0, term: "vt100" } });
    expect(c.direct.stdout.toString()).toBe("0 0\r\n");
    expectSame(c);
    const r = await both('stty size; echo "[${TERM-unset}]"', { tty: true, env: { TERM: "" } });
    expect(r.direct.stdout.toString()).toMatch(/^0 0\r\n\[\w+\]\r\n$/);
    expect(r.gateway.stdout.toString()).toBe("0 0\r\n[xterm]\r\n");
    expect({ ...r.gateway, stdout: null }).toEqual({ ...r.direct, stdout: null });
  });

  // A signal request (ssh2's channel.signal; OpenSSH's client sends none) while the command runs.
  // One sent before the command has started is not compared: sshd itself loses a signal that
  // lands between its fork and the shell's exec, and the gateway drops one that comes while it
  // still decides the command (no upstream channel yet); neither is something a client can use.
  it("a signal request while the command runs reaches it", async () => {
    const c = await bothChannels("echo started; sleep 20; echo slept", {}, (ch) => ch.once("data", () => ch.signal("TERM")));
    expect(c.direct.exit).toMatchObject({ code: null, signal: "SIGTERM" });
    expectSame(c);
  });

  // Regression: exit-signal's "core dumped" flag was always sent as false. (Where the kernel
  // writes no core, e.g. a core_pattern piping to a helper that refuses, both sides say false and
  // this compares nothing new; here core_pattern is "core" and sshd says true.)
  it("exit-signal keeps the core-dumped flag", async () => {
    const dirs: string[] = [];
    const cmd = "d=$(mktemp -d /tmp/gh-diff-core.XXXXXX); echo $d >&2; cd $d && ulimit -c unlimited && kill -SEGV $$";
    try {
      const c = await bothChannels(cmd);
      dirs.push(c.direct.stderr.toString().trim(), c.gateway.stderr.toString().trim());
      expect(c.direct.exit).toMatchObject({ code: null, signal: "SIGSEGV" });
      expect(c.gateway.exit).toEqual(c.direct.exit);
    } finally {
      for (const d of dirs) if (/^\/tmp\/gh-diff-core\.\w+$/.test(d)) fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it("yes | head: the writer gets SIGPIPE upstream, the output and status are the same", async () => {
    const cmd = "yes | head -n 20000; echo ${PIPESTATUS[*]}";
    const r = await both(cmd);
    expect(r.gateway).toEqual(r.direct);
    expectSame(await bothChannels(cmd));
  });

  it("the client closes a channel early while the command keeps writing: no hang, no leaked process", async () => {
    for (const [side, client] of [["direct", conn.direct], ["gateway", conn.gateway]] as const) {
      const marker = `gh-diff-early-${side}-${process.pid}`;
      let seenRunning = false;
      const r = await channel(client, `exec -a ${marker} yes ${marker}`, {}, (ch) => {
        let seen = 0;
        ch.on("data", (d: Buffer) => {
          seen += d.length;
          if (seen > 100_000 && !seenRunning) {
            seenRunning = running(marker); // the probe sees the command, so "gone" below means something
            ch.close();
          }
        });
      });
      expect(r.stdout.length, side).toBeGreaterThan(100_000);
      expect(seenRunning, side).toBe(true);
      // the upstream `yes` ends (SIGPIPE once sshd closes its pipe), on either side
      expect(await gone(marker), `${side}: the command still runs after the client closed its channel`).toBe(true);
    }
    // and the connection still works
    expectSame(await bothChannels("echo still-here"));
  });

  it("the ssh client killed mid-output: the gateway ends the command upstream", async () => {
    const marker = `gh-diff-killed-${process.pid}`;
    const t = gw();
    const args = ["-p", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), "-T", `${t.user}@127.0.0.1`, "--", `exec -a ${marker} yes ${marker}`];
    const child = spawnClient("ssh", args, t);
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    expect(running(marker)).toBe(true);
    child.kill("SIGKILL");
    expect(await gone(marker)).toBe(true);
  });

  it("several channels at once on one connection: each keeps its bytes and its status", async () => {
    const cmds = Array.from({ length: 6 }, (_, k) => `for i in $(seq 1 200); do echo ch${k}-$i; [ $((i % 50)) = 0 ] && sleep 0.01; done; echo err${k} >&2; exit ${10 + k}`);
    const [d, g] = await Promise.all([Promise.all(cmds.map((c) => channel(conn.direct, c))), Promise.all(cmds.map((c) => channel(conn.gateway, c)))]);
    for (const [k] of cmds.entries()) {
      expect(d[k].exit).toEqual({ code: 10 + k });
      expectSame({ direct: d[k], gateway: g[k] });
    }
  });

  /** Waits (a liveness bound, not a timing assertion) until no process runs under `marker`'s name. */
  async function gone(marker: string): Promise<boolean> {
    for (let i = 0; i < 150; i++) {
      if (!running(marker)) return true;
      await sleep(100);
    }
    return false;
  }
  const running = (marker: string) => spawnSync("pgrep", ["-f", `^${marker}`]).status === 0;
});

/** Consecutive repeats as one: how many chunks data came in is not semantics. */
function merged(events: string[]): string[] {
  return events.filter((e, i) => e !== events[i - 1]);
}

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}
