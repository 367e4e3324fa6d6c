import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SFTPWrapper, Stats } from "ssh2";
import { expect } from "vitest";
import { addConnection, addUser, putPolicies, sshUpstream } from "./api-fixture";
import { type GatehouseProcess, login, startGatehouse, teardown } from "./gatehouse";
import { rawSftp, type RawSftp } from "./sftp-raw";
import { ssh2Connect, ssh2Subsystem, type Ssh2Client, type SshTarget } from "./ssh-client";
import { SSH_TEST_USER, startSshd, type Sshd } from "./sshd";

/**
 * What the SFTP differential tests share (tests/integration/sftp-differential.test.ts: request by
 * request; tests/integration/sftp-clients-differential.test.ts: real clients, bulk, random
 * sequences): the outcome and reply helpers, the normalizations, and the setup — the same real
 * OpenSSH sshd reached directly and through Gatehouse, policy permitting everything, the shared
 * fixture directory. What is compared and every normalization are described in each test file.
 */
const POLICY = `
@id("allow-everything")
permit (principal, action, resource);
`;

export type Side = "direct" | "gateway";
export const SIDES: Side[] = ["direct", "gateway"];
export const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
export const FX = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 };

/** What one request came to: its value, or the status code and message of its failure. */
export type Outcome = { ok: unknown } | { code: number | undefined; message: string };

/** One ssh2 SFTP call as an Outcome (values made comparable: Stats as plain attrs, Buffers as hex). */
export function call(start: (cb: (err: (Error & { code?: number }) | null | undefined, ...values: unknown[]) => void) => void): Promise<Outcome> {
  return new Promise((resolve) => {
    // a liveness bound far from any outcome: a request never answered shows as its own outcome
    const timer = setTimeout(() => resolve({ code: undefined, message: "no reply in 20 s" }), 20_000);
    start((err, ...values) => {
      clearTimeout(timer);
      if (err) return resolve({ code: err.code, message: err.message });
      resolve({ ok: plain(values.length <= 1 ? values[0] : values) });
    });
  });
}

export function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { hex: v.toString("hex") };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x !== "function").map(([k, x]) => [k, plain(x)]));
  return v;
}

/** The sandbox directory named `<sandbox>`, and the times of a file a side made itself as "recent". */
export function normalize(v: unknown, dir: string, opts: { times?: boolean } = {}): unknown {
  const now = Date.now() / 1000;
  const text = JSON.stringify(v, (k, x) => {
    if (opts.times && (k === "atime" || k === "mtime") && typeof x === "number" && Math.abs(now - x) < 600) return "recent";
    return x;
  });
  return text === undefined ? undefined : JSON.parse(dir ? text.split(dir).join("<sandbox>") : text);
}

export const attrsOf = (s: Stats) => ({ mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, atime: s.atime, mtime: s.mtime });

/** A file tree as the host has it (read here: the sshd is local), names sorted, links as their text. */
export function treeOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const p = path.join(dir, rel, name);
      const key = path.join(rel, name);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[key] = `link -> ${fs.readlinkSync(p).split(dir).join("<sandbox>")}`;
      else if (st.isDirectory()) {
        out[key] = `dir ${mode}`;
        walk(key);
      } else out[key] = `file ${mode} ${st.size} ${sha(fs.readFileSync(p)).slice(0, 16)}`;
    }
  };
  walk("");
  return out;
}

/** SFTP request ids and packets by hand, replies taken by id (pipelined requests may be answered in any order). */
export class RawSession {
  private nextId = 100;
  constructor(readonly raw: RawSftp) {}
  static async open(client: Ssh2Client): Promise<RawSession> {
    const run = await ssh2Subsystem(client, "sftp");
    const s = new RawSession(rawSftp(run.channel));
    return s;
  }
  /** INIT, and the VERSION reply's body */
  async init(): Promise<Buffer> {
    this.raw.send(1, 3);
    const v = await this.raw.next(10_000);
    if (v?.type !== 2) throw new Error(`no VERSION: ${JSON.stringify(v)}`);
    return v.body;
  }
  /** sends the requests at once, then reads one reply per request: [type, body after the id] in request order */
  async pipeline(requests: [number, ...(number | string | Buffer)[]][]): Promise<{ type: number; body: Buffer }[]> {
    const ids = requests.map(([type, ...fields]) => {
      const id = this.nextId++;
      this.raw.send(type, id, ...fields);
      return id;
    });
    const byId = new Map<number, { type: number; body: Buffer }>();
    for (let i = 0; i < ids.length; i++) {
      const p = await this.raw.next(15_000);
      if (!p) throw new Error(`reply ${i + 1} of ${ids.length} missing`);
      byId.set(p.body.readUInt32BE(0), { type: p.type, body: p.body.subarray(4) });
    }
    return ids.map((id) => byId.get(id) ?? { type: -1, body: Buffer.alloc(0) });
  }
  async one(type: number, ...fields: (number | string | Buffer)[]) {
    return (await this.pipeline([[type, ...fields]]))[0];
  }
}

export const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
export const sshString = (b: Buffer | string) => {
  const bytes = Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
};
/** A reply's body (after the id) read as what it says: STATUS, HANDLE, DATA, NAME, ATTRS, EXTENDED_REPLY. */
export function describeReply(r: { type: number; body: Buffer }, dir: string): unknown {
  let o = 0;
  const u32 = () => ((o += 4), r.body.readUInt32BE(o - 4));
  const str = () => {
    const n = u32();
    return r.body.subarray((o += n) - n, o);
  };
  const attrs = () => {
    const flags = u32();
    const a: Record<string, unknown> = { flags };
    if (flags & 1) a.size = Number(((o += 8), r.body.readBigUInt64BE(o - 8)));
    if (flags & 2) [a.uid, a.gid] = [u32(), u32()];
    if (flags & 4) a.mode = u32().toString(8);
    if (flags & 8) [a.atime, a.mtime] = [u32(), u32()];
    if (flags & 0x80000000) a.extended = Array.from({ length: u32() }, () => [str().toString(), str().toString("hex")]);
    return a;
  };
  const described = (() => {
    switch (r.type) {
      case 101:
        return { status: u32(), message: str().toString("utf8"), lang: str().toString() };
      case 102:
        return { handle: str().toString("hex") };
      case 103:
        return { data: str().toString("hex") };
      case 104:
        return { names: Array.from({ length: u32() }, () => ({ filename: str().toString("utf8"), longname: str().toString("utf8"), attrs: attrs() })) };
      case 105:
        return { attrs: attrs() };
      default:
        return { type: r.type, body: r.body.toString("hex") };
    }
  })();
  if (o !== r.body.length && r.type !== 201) return { type: r.type, trailing: r.body.subarray(o).toString("hex"), described };
  return r.type === 201 ? { extended: r.body.toString("hex") } : normalize(described, dir);
}

/**
 * Gatehouse and the sshd it relays to, each test file its own (vitest runs files in separate
 * workers): `start()` in beforeAll, `stop()` in afterAll. The records and functions are stable
 * from construction (a test file may take them at once); the rest is filled in by `start()`.
 */
export class SftpDifferential {
  gh!: GatehouseProcess;
  sshd!: Sshd;
  member = "";
  home = "";
  base = "";
  fixture = "";
  uid = 0;
  gid = 0;
  tmp = "";
  readonly clients: Ssh2Client[] = [];
  readonly sftp = {} as Record<Side, SFTPWrapper>;
  readonly client = {} as Record<Side, Ssh2Client>;
  /**
   * Connections for packets written by hand, with a banner of their own: the gateway puts an ssh2
   * client's ("ssh2js") SYMLINK paths in OpenSSH's order (ssh2 orders them by the server's banner).
   */
  readonly rawClient = {} as Record<Side, Ssh2Client>;
  private fresh = 0;

  /** `label` names this file's directories (`<home>/gh-sftp-diff-<label>-PID`, `<tmp>/gh-sftp-diff-<label>-…`) */
  constructor(readonly label: string) {}

  readonly target = (side: Side): SshTarget => (side === "direct" ? { port: this.sshd.port, user: this.sshd.user, identityFile: this.sshd.privateKeyPath } : { port: this.gh.ports.ssh, user: "box", password: this.member });

  /** a new empty directory for one side, owned by the login */
  readonly sandbox = (side: Side, label = "t"): string => {
    const dir = path.join(this.base, `${side}-${label}-${++this.fresh}`);
    fs.mkdirSync(dir);
    fs.chownSync(dir, this.uid, this.gid);
    return dir;
  };

  readonly asLogin = (p: string) => execFileSync("chown", ["-R", `${this.uid}:${this.gid}`, p]);

  /**
   * `script` on each side in its own fresh directory, at the same time; the outcomes are
   * compared with the sandbox normalized, and so are the trees left behind.
   */
  readonly both = async <T>(label: string, script: (s: SFTPWrapper, dir: string, side: Side) => Promise<T>, opts: { times?: boolean } = { times: true }) => {
    const dirs = { direct: this.sandbox("direct", label), gateway: this.sandbox("gateway", label) };
    const [d, g] = await Promise.all(SIDES.map((side) => script(this.sftp[side], dirs[side], side)));
    const out = { direct: normalize(d, dirs.direct, opts) as T, gateway: normalize(g, dirs.gateway, opts) as T, dirs };
    expect(out.gateway).toEqual(out.direct);
    expect(treeOf(dirs.gateway)).toEqual(treeOf(dirs.direct));
    return out;
  };

  async start(): Promise<void> {
    const openSftp = (c: Ssh2Client): Promise<SFTPWrapper> => new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
    [this.gh, this.sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    const { gh, sshd } = this;
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await putPolicies(gh, admin, POLICY, "sftp differential: permit everything");
    this.member = await addUser(gh, admin, "sftp-diff@example.test");
    await addConnection(gh, admin, "box", sshUpstream(sshd));
    this.uid = Number(execFileSync("id", ["-u", SSH_TEST_USER], { encoding: "utf8" }).trim());
    this.gid = Number(execFileSync("id", ["-g", SSH_TEST_USER], { encoding: "utf8" }).trim());
    this.home = execFileSync("getent", ["passwd", SSH_TEST_USER], { encoding: "utf8" }).split(":")[5];
    const base = (this.base = path.join(this.home, `gh-sftp-diff-${this.label}-${process.pid}`));
    fs.rmSync(base, { recursive: true, force: true });
    fs.mkdirSync(base);
    const fixture = (this.fixture = path.join(base, "fixture"));
    fs.mkdirSync(path.join(fixture, "big-dir"), { recursive: true });
    // a listing of thousands of entries (OpenSSH answers READDIR 100 names at a time)
    for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(fixture, "big-dir", `entry-${String(i).padStart(5, "0")}-${"x".repeat(i % 40)}`), String(i));
    fs.writeFileSync(path.join(fixture, "small.txt"), "hello fixture\n");
    fs.writeFileSync(path.join(fixture, "big.bin"), randomBytes(30 * 1024 * 1024));
    fs.symlinkSync("small.txt", path.join(fixture, "link-to-small"));
    fs.symlinkSync("nowhere", path.join(fixture, "dangling"));
    this.asLogin(base);
    fs.writeFileSync(path.join(fixture, "root-only"), "secret\n", { mode: 0o600 }); // owned by root: the login may not read it
    fs.utimesSync(path.join(fixture, "small.txt"), 1_600_000_000, 1_500_000_000);
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `gh-sftp-diff-${this.label}-`));
    for (const side of SIDES) {
      this.client[side] = await ssh2Connect(side === "direct" ? { port: sshd.port, user: sshd.user, password: sshd.password } : this.target(side));
      this.clients.push(this.client[side]);
      this.sftp[side] = await openSftp(this.client[side]);
      const login = side === "direct" ? { port: sshd.port, user: sshd.user, password: sshd.password } : this.target(side);
      this.rawClient[side] = await ssh2Connect(login, { ident: "gh-sftp-differential-raw" });
      this.clients.push(this.rawClient[side]);
    }
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.end();
    await teardown(this.gh, this.sshd);
    if (this.base) fs.rmSync(this.base, { recursive: true, force: true });
    if (this.tmp) fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
