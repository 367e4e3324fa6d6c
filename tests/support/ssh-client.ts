import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

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
