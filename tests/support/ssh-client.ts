import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import ssh2, { type ClientChannel, type ConnectConfig, type ExecOptions } from "ssh2";

/**
 * Runs the real OpenSSH clients (`ssh`, `sftp`, `scp`) non-interactively, as a user or an agent
 * would from a script: against a host/port, logging in with a password (a Gatehouse token, or
 * the upstream's own password in direct tests) or a private key file.
 *
 * Passwords go in through `sshpass -e` (the password in the environment, never in argv, so `ps`
 * does not show a token). Without sshpass, an askpass script with SSH_ASKPASS_REQUIRE=force
 * answers every prompt (password and keyboard-interactive alike). sshpass exits 5 on a rejected
 * password where ssh alone would exit 255: assert "non-zero" plus the stderr text, not 255.
 */
export interface SshTarget {
  host?: string;
  port: number;
  /** for the gateway: the connection name */
  user: string;
  /** for the gateway: a Gatehouse token */
  password?: string;
  /** private key file (mode 0600) for publickey auth */
  identityFile?: string;
  /** which password-ish method to offer first; default password, then keyboard-interactive */
  passwordMethod?: "password" | "keyboard-interactive";
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

const SSHPASS = "/usr/bin/sshpass";

export const COMMON_OPTIONS = [
  "-F", "none",
  "-o", "StrictHostKeyChecking=no",
  "-o", "UserKnownHostsFile=/dev/null",
  "-o", "GlobalKnownHostsFile=/dev/null",
  "-o", "LogLevel=ERROR",
  "-o", "ConnectTimeout=10",
  "-o", "ControlMaster=no",
  "-o", "ControlPath=none",
];

/** Options selecting exactly one way to authenticate, so a test proves the one it means. */
export function authOptions(t: SshTarget): string[] {
  if (t.identityFile) {
    return ["-o", "PreferredAuthentications=publickey", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", t.identityFile];
  }
  if (t.password === undefined) throw new Error("an SshTarget needs a password or an identityFile");
  const order = t.passwordMethod === "keyboard-interactive" ? "keyboard-interactive,password" : "password,keyboard-interactive";
  // BatchMode=no must come before sftp's own "-obatchmode yes" (-b): ssh keeps the first value.
  return ["-o", "BatchMode=no", "-o", `PreferredAuthentications=${order}`, "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"];
}

/** `ssh ... user@host -- command`; `tty` forces a pty (-tt) even without a local terminal. */
export function sshExec(t: SshTarget, command: string, opts: RunOptions & { tty?: boolean; extraArgs?: string[] } = {}): Promise<RunResult> {
  const args = ["-p", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), ...(opts.tty ? ["-tt"] : ["-T"]), ...(opts.extraArgs ?? []), `${t.user}@${t.host ?? "127.0.0.1"}`, "--", command];
  return run(spawnClient("ssh", args, t, opts), opts);
}

/**
 * `sftp -b -` with the given commands; sftp stops at the first failing command and exits
 * non-zero (prefix a command with "-" to ignore its failure, as sftp's batch mode allows).
 */
export function sftpBatch(t: SshTarget, commands: string[], opts: RunOptions & { extraArgs?: string[] } = {}): Promise<RunResult> {
  const args = ["-P", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), ...(opts.extraArgs ?? []), "-b", "-", `${t.user}@${t.host ?? "127.0.0.1"}`];
  return run(spawnClient("sftp", args, t, opts), { ...opts, input: commands.join("\n") + "\n" });
}

/**
 * `scp` between a local path and `remote:` paths: write remote paths as ":path" and they are
 * prefixed with user@host. `legacy` uses the old scp/rcp protocol (-O) instead of sftp.
 */
export function scp(t: SshTarget, from: string, to: string, opts: RunOptions & { legacy?: boolean; extraArgs?: string[] } = {}): Promise<RunResult> {
  const remote = (p: string) => (p.startsWith(":") ? `${t.user}@${t.host ?? "127.0.0.1"}${p}` : p);
  const args = ["-P", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), ...(opts.legacy ? ["-O"] : []), ...(opts.extraArgs ?? []), remote(from), remote(to)];
  return run(spawnClient("scp", args, t, opts), opts);
}

/**
 * The ssh command line (argv, env) for a target, to run it some other way: inside tmux for an
 * interactive session, or streaming a large output. Call `cleanup()` when done.
 */
export function sshCommand(t: SshTarget, remoteArgs: string[] = [], extraArgs: string[] = []): { argv: string[]; env: Record<string, string>; cleanup(): void } {
  const args = ["-p", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), ...extraArgs, `${t.user}@${t.host ?? "127.0.0.1"}`, ...(remoteArgs.length ? ["--", ...remoteArgs] : [])];
  return withPassword("ssh", args, t);
}

/**
 * An `ssh ... -- command` left running, for tests that act while it runs (approve a hold, kill
 * the session): its stderr so far and its exit code. Stdin is closed, stdout discarded.
 */
export function startSsh(t: SshTarget, command: string): { child: ChildProcess; stderr(): string; exited: Promise<number | null> } {
  const args = ["-p", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), "-T", `${t.user}@${t.host ?? "127.0.0.1"}`, "--", command];
  const child = spawnClient("ssh", args, t);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
  child.stdout!.resume();
  child.stdin!.end();
  return { child, stderr: () => stderr, exited: new Promise((resolve) => child.once("close", resolve)) };
}

/** Spawns one OpenSSH client with the password plumbing; stdio are pipes. */
export function spawnClient(bin: "ssh" | "sftp" | "scp", args: string[], t: SshTarget, opts: { env?: Record<string, string>; cwd?: string } = {}): ChildProcess {
  const { argv, env, cleanup } = withPassword(bin, args, t);
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env, ...opts.env }, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
  child.once("close", cleanup);
  child.once("error", cleanup);
  return child;
}

function withPassword(bin: string, args: string[], t: SshTarget): { argv: string[]; env: Record<string, string>; cleanup(): void } {
  if (t.identityFile || t.password === undefined) return { argv: [bin, ...args], env: {}, cleanup: () => {} };
  if (fs.existsSync(SSHPASS)) return { argv: [SSHPASS, "-e", bin, ...args], env: { SSHPASS: t.password }, cleanup: () => {} };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-askpass-"));
  const script = path.join(dir, "askpass");
  fs.writeFileSync(script, '#!/bin/sh\nprintf "%s\\n" "$GH_ASKPASS_SECRET"\n', { mode: 0o700 });
  return {
    argv: [bin, ...args],
    // "force": ask the script even with a terminal attached (inside tmux) and without DISPLAY.
    env: { SSH_ASKPASS: script, SSH_ASKPASS_REQUIRE: "force", GH_ASKPASS_SECRET: t.password },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

function run(child: ChildProcess, opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 60_000);
    child.stdout!.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d) => (stderr += d));
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n[ssh-client] killed after ${opts.timeoutMs ?? 60_000} ms`;
      resolve({ code, stdout, stderr });
    });
    // The remote side may close stdin early (exec that ignores input): not an error.
    child.stdin!.on("error", () => {});
    child.stdin!.end(opts.input ?? "");
  });
}

/*
 * The ssh2 npm client, for what the OpenSSH client will not send on purpose: requests on a
 * channel that already runs a command, replies observed for requests OpenSSH sends without
 * want-reply (agent forwarding), made-up subsystem names.
 */
export type Ssh2Client = InstanceType<typeof ssh2.Client>;

export async function ssh2Connect(t: SshTarget, extra: Partial<ConnectConfig> = {}): Promise<Ssh2Client> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", reject);
    client.connect({ host: t.host ?? "127.0.0.1", port: t.port, username: t.user, password: t.password, readyTimeout: 15_000, ...extra });
  });
  client.on("error", () => {});
  return client;
}

export interface Ssh2Run {
  channel: ClientChannel;
  stdout(): string;
  stderr(): string;
  /** resolves when the channel closes: the exit code, or the signal name */
  done: Promise<number | string | null>;
}

/** Opens an exec channel; rejects when the server refuses the channel or one of its requests. */
export function ssh2Exec(client: Ssh2Client, command: string, opts: ExecOptions = {}): Promise<Ssh2Run> {
  return new Promise((resolve, reject) =>
    client.exec(command, opts, (err, channel) => {
      if (err) return reject(err);
      resolve(collect(channel));
    }),
  );
}

export function ssh2Subsystem(client: Ssh2Client, name: string): Promise<Ssh2Run> {
  return new Promise((resolve, reject) => client.subsys(name, (err, channel) => (err ? reject(err) : resolve(collect(channel)))));
}

function collect(channel: ClientChannel): Ssh2Run {
  let stdout = "";
  let stderr = "";
  let status: number | string | null = null;
  channel.on("data", (d: Buffer) => (stdout += d));
  channel.stderr.on("data", (d: Buffer) => (stderr += d));
  channel.on("exit", (code: number | null, signal?: string) => (status = code ?? signal ?? null));
  const done = new Promise<number | string | null>((r) => channel.on("close", () => r(status)));
  return { channel, stdout: () => stdout, stderr: () => stderr, done };
}

/**
 * Sends one more "real session start" request (exec, shell, subsystem), or an env request, on a
 * channel that is already running something, as a hostile client could; ssh2's API sends these
 * only before the channel starts.
 * Resolves with the server's reply, or "no reply" when none came within `timeoutMs`.
 */
export function ssh2ChannelRequest(
  channel: ClientChannel,
  req: { type: "exec"; command: string } | { type: "shell" } | { type: "subsystem"; name: string } | { type: "env"; key: string; value: string },
  timeoutMs = 3000,
): Promise<"success" | "failure" | "no reply"> {
  const ch = channel as unknown as {
    outgoing: { id: number };
    _callbacks: ((failed: boolean) => void)[];
    _client: {
      _protocol: {
        exec(id: number, cmd: string, wantReply: boolean): void;
        shell(id: number, wantReply: boolean): void;
        subsystem(id: number, name: string, wantReply: boolean): void;
        env(id: number, key: string, value: string, wantReply: boolean): void;
      };
    };
  };
  return new Promise((resolve) => {
    const onReply = (failed: boolean) => {
      clearTimeout(timer);
      resolve(failed ? "failure" : "success");
    };
    const timer = setTimeout(() => {
      // a late reply must not be taken for the answer to a later request
      ch._callbacks.splice(ch._callbacks.indexOf(onReply), 1);
      resolve("no reply");
    }, timeoutMs);
    ch._callbacks.push(onReply);
    const proto = ch._client._protocol;
    if (req.type === "exec") proto.exec(ch.outgoing.id, req.command, true);
    else if (req.type === "shell") proto.shell(ch.outgoing.id, true);
    else if (req.type === "env") proto.env(ch.outgoing.id, req.key, req.value, true);
    else proto.subsystem(ch.outgoing.id, req.name, true);
  });
}
