import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./ports";

/**
 * A real OpenSSH sshd (Debian's /usr/sbin/sshd) on a free high port on 127.0.0.1, with its own
 * config, host key and authorized_keys in a temp dir. It logs in one dedicated OS account,
 * `gh-ssh-test`, by password or by a generated client key.
 *
 * Needs root, as sshd does to switch to the login user: it creates that account when missing
 * (useradd -m) and (re)sets its known password with chpasswd. Tests and CI run as root here.
 *
 * `UsePAM no`: with PAM off, sshd checks passwords against /etc/shadow itself, which is all
 * password auth needs here, and logins print no motd/lastlog noise into captured output.
 * Forwarding, agent forwarding, X11 and env requests are all permitted upstream on purpose: when
 * a test through the gateway sees one refused, the refusal came from Gatehouse.
 */
export interface Sshd {
  host: string;
  port: number;
  user: string;
  password: string;
  /** OpenSSH-format Ed25519 private key authorized for `user` ("-----BEGIN OPENSSH PRIVATE KEY-----") */
  privateKeyPem: string;
  /** the same key as a file (mode 0600), for `ssh -i` */
  privateKeyPath: string;
  publicKey: string;
  /** OpenSSH fingerprint of the host key, "SHA256:<unpadded base64>" */
  hostKeyFingerprint: string;
  /** the temp dir holding config, keys and pid file */
  dir: string;
  /** everything sshd wrote to stderr (-e), for failure messages */
  log(): string;
  /** authorize one more public key line for `user` */
  authorizeKey(publicKeyLine: string): void;
  stop(): Promise<void>;
}

export const SSH_TEST_USER = "gh-ssh-test";
export const SSH_TEST_PASSWORD = "gh-ssh-test-Pw-4821";
const SSHD = "/usr/sbin/sshd";

/**
 * `hostKeyType`: the one host key sshd has (an RSA host key is signed with rsa-sha2-* or ssh-rsa,
 * as negotiated). `logLevel`: sshd keeps the first value of a keyword, so a test that reads the
 * negotiated algorithms in the log ("kex: algorithm: ...", DEBUG) sets it here, not in extraConfig.
 */
export async function startSshd(opts: { extraConfig?: string[]; hostKeyType?: "ed25519" | "rsa"; logLevel?: "INFO" | "DEBUG" | "DEBUG2" } = {}): Promise<Sshd> {
  if (process.getuid?.() !== 0) throw new Error("startSshd needs root (sshd must switch to the test login user); run the tests as root");
  if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} is missing: apt-get install -y openssh-server`);
  ensureTestUser();
  // sshd's privilege-separation chroot; Debian's package creates it only at service start.
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-sshd-"));
  // The login user reads authorized_keys through this dir (sshd drops to the user to read it).
  fs.chmodSync(dir, 0o755);
  const hostKeyType = opts.hostKeyType ?? "ed25519";
  const hostKey = path.join(dir, `ssh_host_${hostKeyType}_key`);
  keygen(hostKey, "gh-test-host", hostKeyType);
  const clientKey = path.join(dir, "client_ed25519");
  keygen(clientKey, "gh-test-client");
  const publicKey = fs.readFileSync(`${clientKey}.pub`, "utf8").trim();
  const authorized = path.join(dir, "authorized_keys");
  fs.writeFileSync(authorized, publicKey + "\n", { mode: 0o644 });
  const hostKeyFingerprint = fingerprintOf(`${hostKey}.pub`);

  let lastError = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    // freePort can race with another test grabbing the same port: retry on a fresh one.
    const port = await freePort();
    const config = path.join(dir, "sshd_config");
    fs.writeFileSync(config, sshdConfig({ dir, port, hostKey, authorized, logLevel: opts.logLevel ?? "INFO", extra: opts.extraConfig ?? [] }));
    // setpriv --pdeathsig: a test worker killed outright (no exit handlers run) must not leave a
    // root sshd listening. setpriv execs sshd, so the child is sshd itself.
    const proc = spawn("setpriv", ["--pdeathsig", "SIGTERM", SSHD, "-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    proc.stderr!.on("data", (d) => (log += d));
    const up = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (/Server listening on 127\.0\.0\.1 port/.test(log)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      proc.stderr!.on("data", check);
      proc.once("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!up) {
      lastError = log;
      await killTree(proc);
      if (/Address already in use|Cannot bind any address/.test(log)) continue;
      break;
    }
    const onExit = () => {
      // A crashed test run must not leave a root sshd listening.
      try {
        proc.kill("SIGKILL");
      } catch {}
    };
    process.once("exit", onExit);
    return {
      host: "127.0.0.1",
      port,
      user: SSH_TEST_USER,
      password: SSH_TEST_PASSWORD,
      privateKeyPem: fs.readFileSync(clientKey, "utf8"),
      privateKeyPath: clientKey,
      publicKey,
      hostKeyFingerprint,
      dir,
      log: () => log,
      authorizeKey: (line) => fs.appendFileSync(authorized, line.trim() + "\n"),
      stop: async () => {
        process.off("exit", onExit);
        await killTree(proc);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`sshd did not start:\n${lastError}`);
}

function sshdConfig(o: { dir: string; port: number; hostKey: string; authorized: string; logLevel: string; extra: string[] }): string {
  const lines = [
    `Port ${o.port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${o.hostKey}`,
    `PidFile ${path.join(o.dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${o.authorized}`,
    "StrictModes no",
    "UsePAM no",
    "PasswordAuthentication yes",
    "PubkeyAuthentication yes",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin no",
    `AllowUsers ${SSH_TEST_USER}`,
    "PermitEmptyPasswords no",
    "UseDNS no",
    "PrintMotd no",
    "PrintLastLog no",
    "PermitTTY yes",
    "AllowTcpForwarding yes",
    "GatewayPorts no",
    "PermitTunnel no",
    "AllowAgentForwarding yes",
    "X11Forwarding yes",
    "AcceptEnv LANG LC_* GH_*",
    "Subsystem sftp internal-sftp",
    // Tests open many sessions at once and the bench hammers one host: no throttling.
    "MaxStartups 200",
    "MaxSessions 100",
    "MaxAuthTries 10",
    "LoginGraceTime 30",
    `LogLevel ${o.logLevel}`,
  ];
  // OpenSSH ≥ 9.8 penalizes addresses with failed logins, which would lock 127.0.0.1 out after
  // the tests that try a wrong password on purpose.
  if (opensshVersion() >= 9.8) lines.push("PerSourcePenalties no");
  return [...lines, ...o.extra].join("\n") + "\n";
}

let cachedVersion: number | null = null;
function opensshVersion(): number {
  if (cachedVersion === null) {
    const r = spawnSync(SSHD, ["-V"], { encoding: "utf8" });
    const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${r.stdout}${r.stderr}`);
    cachedVersion = m ? Number(m[1]) + Number(m[2]) / 10 : 0;
  }
  return cachedVersion;
}

export function keygen(file: string, comment: string, type: "ed25519" | "rsa" = "ed25519") {
  execFileSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "3072"] : []), "-N", "", "-C", comment, "-f", file], { stdio: "ignore" });
}

function fingerprintOf(pubFile: string): string {
  const out = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", pubFile], { encoding: "utf8" });
  const m = /(SHA256:[A-Za-z0-9+/]+)/.exec(out);
  if (!m) throw new Error(`cannot read a fingerprint from: ${out}`);
  return m[1];
}

/**
 * Idempotent, and safe when several test workers call it at once: useradd's "already exists"
 * (exit 9) counts as success, and chpasswd retries while another one holds /etc/shadow's lock.
 */
function ensureTestUser() {
  const exists = () => spawnSync("id", ["-u", SSH_TEST_USER], { stdio: "ignore" }).status === 0;
  if (!exists()) {
    const r = spawnSync("useradd", ["-m", "-s", "/bin/bash", SSH_TEST_USER], { encoding: "utf8" });
    if (r.status !== 0 && r.status !== 9 && !exists()) throw new Error(`useradd ${SSH_TEST_USER} failed: ${r.stderr}`);
  }
  if (passwordIsSet()) return;
  for (let i = 0; ; i++) {
    // SHA-512 crypt, so passwordIsSet can verify it with openssl next time.
    const r = spawnSync("chpasswd", ["-c", "SHA512"], { input: `${SSH_TEST_USER}:${SSH_TEST_PASSWORD}\n`, encoding: "utf8" });
    if (r.status === 0) return;
    if (i >= 20) throw new Error(`chpasswd for ${SSH_TEST_USER} failed: ${r.stderr}`);
    spawnSync("sleep", ["0.1"]);
  }
}

/** Avoids rewriting /etc/shadow on every start when the known password is already in place. */
function passwordIsSet(): boolean {
  const line = fs
    .readFileSync("/etc/shadow", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${SSH_TEST_USER}:`));
  const hash = line?.split(":")[1] ?? "";
  const m = /^\$(\w+)\$(?:rounds=\d+\$)?([^$]+)\$/.exec(hash);
  if (!m || !["1", "5", "6"].includes(m[1])) return false;
  // openssl can recompute md5/sha256/sha512-crypt hashes; yescrypt ($y$) falls through to chpasswd.
  const salt = hash.split("$").slice(2, -1).join("$");
  const r = spawnSync("openssl", ["passwd", `-${m[1]}`, "-salt", salt, SSH_TEST_PASSWORD], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() === hash;
}

interface Proc {
  pid: number;
  /** start time in clock ticks since boot: tells a pid from a later process reusing it */
  start: string;
  /** 1 = per-connection monitor, 2 = its session/network child, 3+ = the user's processes */
  depth: number;
}

function readStat(pid: number): { ppid: number; state: string; start: string } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces and parentheses: the fields follow the last ')'.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], ppid: Number(f[1]), start: f[19] };
  } catch {
    return null;
  }
}

/** Every process below `root`, found through /proc (sshd's children call setsid). */
function descendants(root: number): Proc[] {
  const children = new Map<number, { pid: number; start: string }[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readStat(Number(entry));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push({ pid: Number(entry), start: st.start });
    children.set(st.ppid, list);
  }
  const out: Proc[] = [];
  const walk = (pid: number, depth: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push({ ...c, depth });
      walk(c.pid, depth + 1);
    }
  };
  walk(root, 1);
  return out;
}

/**
 * Stops sshd and every session it forked. Killing only the listener would leave the
 * per-connection sshd processes and their shells running, reparented to init. Deepest first,
 * so each parent is still there to reap its child: this machine's init reaps nothing, and
 * every orphan would stay a zombie.
 */
async function killTree(proc: ChildProcess): Promise<void> {
  if (proc.pid === undefined) return;
  const running = () => proc.exitCode === null && proc.signalCode === null;
  if (!running()) return;
  const tree = descendants(proc.pid);
  const signal = (p: Proc, sig: NodeJS.Signals) => {
    if (!alive(p)) return;
    try {
      process.kill(p.pid, sig);
    } catch {}
  };
  const gone = async (procs: Proc[], ms: number) => {
    const deadline = Date.now() + ms;
    while (procs.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return !procs.some(alive);
  };
  const maxDepth = Math.max(0, ...tree.map((p) => p.depth));
  for (let depth = maxDepth; depth >= 1; depth--) {
    const level = tree.filter((p) => p.depth === depth);
    // An interactive bash ignores SIGTERM but not SIGHUP (which is also what a hangup sends).
    for (const p of level) signal(p, "SIGHUP");
    for (const p of level) signal(p, "SIGTERM");
    if (!(await gone(level, 1000))) for (const p of level) signal(p, "SIGKILL");
  }
  const exited = new Promise((r) => proc.once("exit", r));
  if (running()) proc.kill("SIGTERM");
  const timedOut = await Promise.race([exited.then(() => false), new Promise((r) => setTimeout(() => r(true), 3000))]);
  if (timedOut) {
    proc.kill("SIGKILL");
    await exited;
  }
  if (!(await gone(tree, 1000))) for (const p of tree) signal(p, "SIGKILL");
}

function alive(p: Proc): boolean {
  const st = readStat(p.pid);
  // A zombie is gone for our purposes; a different start time is a new process on a reused pid.
  return st !== null && st.state !== "Z" && st.start === p.start;
}
