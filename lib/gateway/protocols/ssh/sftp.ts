import type { ClientChannel as UpstreamChannel, ServerChannel } from "ssh2";
import type { GatewaySession } from "@/lib/gateway/core/session";
import type { ClassifiedRequest } from "@/lib/gateway/core/types";
import { isPersistenceAncestor, isPersistencePath } from "./persistence-paths";
import type { UpstreamPaths } from "./upstream-paths";

/**
 * SFTP pass-through with inspection. ssh2 has no raw SFTP proxy, so the gateway relays the
 * subsystem's bytes itself and parses the packet framing (uint32 length, type, request id) in
 * both directions. Every request that changes the remote file system (open for writing,
 * remove, rename, mkdir, rmdir, setstat, symlink, unknown extensions) is decided by policy
 * before it is forwarded; a refusal is answered to the client as SSH_FX_PERMISSION_DENIED with
 * the reason, and a hold parks the packet stream (in order) until the approver decides.
 * Opening a file for reading is decided too (action read), as `unmaskable`: file contents cannot
 * be masked (an SFTP read returns byte ranges of files that may be binary), so where masking
 * applies to the reader (agents, by the default policies) the core refuses the open rather than
 * let the bytes leak; `cat` through exec is masked instead. Listings and stat are recorded, not
 * decided.
 */
const MAX_PACKET = 1 << 20; // OpenSSH sends ≤ 256 KiB; anything far larger is an attack or a bug
/**
 * Packets waiting behind a decision (an approver may take hours) are held in memory: past this
 * many bytes the client channel is paused, so the SSH window closes and the client waits, rather
 * than one client filling the gateway's memory.
 */
const MAX_QUEUED = 4 << 20;

const T = {
  INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, LSTAT: 7, FSTAT: 8, SETSTAT: 9, FSETSTAT: 10, OPENDIR: 11, READDIR: 12,
  REMOVE: 13, MKDIR: 14, RMDIR: 15, REALPATH: 16, STAT: 17, RENAME: 18, READLINK: 19, SYMLINK: 20, EXTENDED: 200,
  STATUS: 101, HANDLE: 102, DATA: 103,
} as const;
/**
 * The one version spoken: packets are read in version 3's layout, so a client asking for a later
 * one (whose OPEN, RENAME and LINK read differently) is offered 3, and an upstream answering
 * anything else is cut off. A request type version 3 does not have (LINK, BLOCK, …) is answered
 * here as unsupported, never forwarded unread.
 */
const SFTP_VERSION = 3;
const V3_REQUESTS: ReadonlySet<number> = new Set([
  T.OPEN, T.CLOSE, T.READ, T.WRITE, T.LSTAT, T.FSTAT, T.SETSTAT, T.FSETSTAT, T.OPENDIR, T.READDIR, T.REMOVE, T.MKDIR, T.RMDIR,
  T.REALPATH, T.STAT, T.RENAME, T.READLINK, T.SYMLINK, T.EXTENDED,
]);
const FX_PERMISSION_DENIED = 3;
const FX_OP_UNSUPPORTED = 8;
const FX_OK = 0;
const PFLAGS = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 0x10, EXCL: 0x20 };
/** extensions that only read; any other extension is decided as unknown */
const READ_EXTENSIONS = new Set(["statvfs@openssh.com", "fstatvfs@openssh.com", "limits@openssh.com", "expand-path@openssh.com", "home-directory", "users-groups-by-id@openssh.com"]);

export interface SftpEvent {
  op: string;
  path: string;
  path2?: string;
  flags?: string;
  bytes?: number;
  status?: string;
}

interface HandleInfo {
  path: string;
  read: number;
  written: number;
}

export class SftpRelay {
  private fromClient: Buffer = Buffer.alloc(0);
  private fromServer: Buffer = Buffer.alloc(0);
  private queue: Buffer[] = [];
  private queued = 0;
  /** paused because the upstream channel is full / because too much waits in the queue */
  private upstreamFull = false;
  private queueFull = false;
  private busy = false;
  private closed = false;
  /** the client's INIT went upstream (once: a second one is a protocol error) */
  private initialised = false;
  /** request id → what it was, to label replies */
  private readonly requests = new Map<number, { op: string; path: string; handle?: string }>();
  private readonly handles = new Map<string, HandleInfo>();
  /** the channel closed: a request still held for approval is given up (the connection may live on) */
  private readonly gone = new AbortController();

  constructor(
    private readonly gw: GatewaySession,
    private readonly ch: number,
    private readonly client: ServerChannel,
    private readonly upstream: UpstreamChannel,
    /** where a written path leads on the host (a symlink already there, a home outside /home) */
    private readonly paths: UpstreamPaths,
  ) {}

  start() {
    const { client, upstream } = this;
    client.on("data", (d: Buffer) => this.onClientData(d));
    upstream.on("data", (d: Buffer) => this.onServerData(d));
    upstream.on("drain", () => {
      this.upstreamFull = false;
      this.resumeClient();
    });
    client.on("drain", () => upstream.resume());
    client.on("end", () => upstream.end());
    client.on("close", () => this.close());
    // scp (sftp mode) checks the subsystem's exit status. ssh2 drops exit-status on a channel
    // already ended, so the status is sent first, at close, and then the client side is ended.
    let exit: { code: number | null; signal?: string } | undefined;
    upstream.on("exit", (code: number | null, signal?: string) => (exit = { code, signal }));
    upstream.stderr.on("data", (d: Buffer) => client.stderr.write(d));
    upstream.on("close", () => {
      if (exit?.signal) client.exit(exit.signal, false, "");
      else if (exit) client.exit(exit.code ?? 255);
      this.close();
      client.end();
    });
  }

  private close() {
    if (this.closed) return;
    this.closed = true;
    this.gone.abort();
    for (const [, h] of this.handles) this.record({ op: "close", path: h.path, bytes: h.read + h.written, status: "connection closed" });
    this.handles.clear();
    this.upstream.close();
  }

  private record(e: SftpEvent) {
    this.gw.recorder.record("sftp", { ch: this.ch, ...e });
  }

  private onClientData(d: Buffer) {
    this.fromClient = this.fromClient.length ? Buffer.concat([this.fromClient, d]) : d;
    while (this.fromClient.length >= 4) {
      const len = this.fromClient.readUInt32BE(0);
      if (len < 1 || len > MAX_PACKET) return this.protocolError(`client sent an SFTP packet of ${len} bytes`);
      if (this.fromClient.length < 4 + len) break;
      this.queue.push(this.fromClient.subarray(0, 4 + len));
      this.queued += 4 + len;
      this.fromClient = this.fromClient.subarray(4 + len);
    }
    if (this.queued + this.fromClient.length > MAX_QUEUED && !this.queueFull) {
      this.queueFull = true;
      this.client.pause();
    }
    this.pump();
  }

  private resumeClient() {
    if (this.queueFull && this.queued + this.fromClient.length <= MAX_QUEUED / 2) this.queueFull = false;
    if (!this.upstreamFull && !this.queueFull) this.client.resume();
  }

  private protocolError(why: string) {
    this.record({ op: "error", path: "", status: why });
    this.client.close();
    this.close();
  }

  /** Packets are handled strictly in order; only a decision makes the pump wait. */
  private pump() {
    if (this.busy) return;
    this.busy = true;
    const step = async () => {
      while (this.queue.length && !this.closed) {
        let packet = this.queue.shift()!;
        this.queued -= packet.length;
        if (this.queueFull) this.resumeClient();
        const type = packet[4];
        if ((type === T.INIT) === this.initialised) return this.protocolError(type === T.INIT ? "client sent a second SFTP INIT" : `client sent SFTP request type ${type} before INIT`);
        if (type === T.INIT) packet = this.negotiate(packet);
        else if (!V3_REQUESTS.has(type)) {
          const id = new Reader(packet, 5).u32();
          this.record({ op: `type ${type}`, path: "", status: "refused: not an SFTP version 3 request" });
          this.reply(id, FX_OP_UNSUPPORTED, `gatehouse: SFTP request type ${type} is not supported (SFTP version 3 only)`);
          continue;
        }
        const request = this.inspect(packet);
        if (request) {
          const req = await this.paths.judge(request.req, request.paths);
          if (this.closed) break;
          const decision = await this.gw.decide(req, { signal: this.gone.signal });
          if (this.closed) break;
          if (decision.type === "deny") {
            this.record({ ...request.event, status: `denied: ${decision.reason}` });
            this.reply(request.id, FX_PERMISSION_DENIED, `gatehouse: denied: ${decision.reason}`);
            continue;
          }
          if (decision.approvalId) this.record({ ...request.event, status: `approved #${decision.approvalId}` });
        }
        if (!this.upstream.write(packet)) {
          this.upstreamFull = true;
          this.client.pause();
        }
      }
    };
    step()
      .catch((err) => this.protocolError(err instanceof RangeError ? "malformed SFTP packet from the client" : `sftp relay failed: ${(err as Error).message}`))
      .finally(() => {
        this.busy = false;
        if (this.queue.length && !this.closed) this.pump();
      });
  }

  /** The client's INIT, asking for version 3 whatever it asked for (its extension pairs kept). */
  private negotiate(init: Buffer): Buffer {
    this.initialised = true;
    const asked = new Reader(init, 5).u32();
    if (asked === SFTP_VERSION) return init;
    this.record({ op: "init", path: "", flags: `version ${asked}`, status: `offered version ${SFTP_VERSION}` });
    const clamped = Buffer.from(init);
    clamped.writeUInt32BE(SFTP_VERSION, 5);
    return clamped;
  }

  /**
   * Reads one client packet; returns the policy request when it needs a decision. Records the
   * operations that do not need one.
   */
  private inspect(p: Buffer): { id: number; req: ClassifiedRequest; event: SftpEvent; paths: string[] } | null {
    const type = p[4];
    const r = new Reader(p, 5);
    const id = r.u32();
    const decideWrite = (op: string, path: string, path2?: string, asked: ClassifiedRequest["kind"] = "write") => {
      this.requests.set(id, { op, path });
      // Where the host runs code later (~/.ssh, startup files, hooks, /etc): see persistence-paths.ts.
      // A link to a directory above them (`/`, the home directory) reaches them by another name,
      // and a directory renamed to one above them (`.git`, `.config`) brings names nobody saw.
      const paths = path2 === undefined ? [path] : [path, path2];
      const above = (p: string, i: number) => (op === "symlink" || op === "hardlink" || (op === "rename" && i === 1)) && isPersistenceAncestor(p);
      const kind = asked === "write" && paths.some((p, i) => isPersistencePath(p) || above(p, i)) ? "admin" : asked;
      const text = `sftp ${op} ${path}${path2 !== undefined ? ` ${path2}` : ""}`;
      return { id, req: { action: "write" as const, kind, tables: [], functions: [], text }, event: { op, path, ...(path2 !== undefined ? { path2 } : {}) }, paths };
    };
    switch (type) {
      case T.OPEN: {
        const path = r.string();
        const flags = r.u32();
        const writes = (flags & (PFLAGS.WRITE | PFLAGS.APPEND | PFLAGS.CREAT | PFLAGS.TRUNC)) !== 0;
        const label = flagLabel(flags);
        this.requests.set(id, { op: "open", path });
        this.record({ op: "open", path, flags: label });
        // File bytes cannot be masked: where masking applies, the core refuses a read (unmaskable).
        // A handle is readable unless it was opened for writing only: OpenSSH's sftp-server opens
        // O_RDONLY when neither READ nor WRITE is asked, so CREAT or APPEND alone reads the file.
        const readable = (flags & PFLAGS.READ) !== 0 || (flags & PFLAGS.WRITE) === 0;
        if (writes) {
          const w = decideWrite("write", path);
          return readable ? { ...w, req: { ...w.req, unmaskable: true } } : w;
        }
        return { id, req: { action: "read", kind: "read", tables: [], functions: [], text: `sftp read ${path}`, unmaskable: true }, event: { op: "read", path }, paths: [] };
      }
      case T.OPENDIR:
        this.requests.set(id, { op: "opendir", path: r.string() });
        return null;
      case T.READ: {
        const handle = r.str().toString("hex");
        this.requests.set(id, { op: "read", path: this.handles.get(handle)?.path ?? "", handle });
        return null;
      }
      case T.WRITE: {
        const h = this.handles.get(r.str().toString("hex"));
        r.skip(8);
        if (h) h.written += r.u32();
        return null;
      }
      case T.CLOSE: {
        const handle = r.str().toString("hex");
        const h = this.handles.get(handle);
        if (h) {
          this.handles.delete(handle);
          this.record({ op: "close", path: h.path, ...(h.read ? { bytes: h.read, flags: "read" } : {}), ...(h.written ? { bytes: h.written, flags: "written" } : {}) });
        }
        return null;
      }
      case T.REMOVE:
        return decideWrite("remove", r.string());
      case T.RMDIR:
        return decideWrite("rmdir", r.string());
      case T.MKDIR:
        return decideWrite("mkdir", r.string());
      case T.SETSTAT:
        return decideWrite("setstat", r.string());
      case T.FSETSTAT:
        return decideWrite("setstat", this.handles.get(r.str().toString("hex"))?.path ?? "(handle)");
      case T.RENAME: {
        const from = r.string();
        return decideWrite("rename", from, r.string());
      }
      case T.SYMLINK: {
        const a = r.string();
        return decideWrite("symlink", a, r.string());
      }
      case T.EXTENDED: {
        const name = r.string();
        if (READ_EXTENSIONS.has(name)) return null;
        if (name === "posix-rename@openssh.com" || name === "hardlink@openssh.com") {
          const from = r.string();
          return decideWrite(name.startsWith("posix") ? "rename" : "hardlink", from, r.string());
        }
        if (name === "fsync@openssh.com") return null;
        return decideWrite(name, "", undefined, "unknown");
      }
      default:
        return null; // stat, lstat, fstat, readdir, realpath, readlink: reads
    }
  }

  private onServerData(d: Buffer) {
    this.fromServer = this.fromServer.length ? Buffer.concat([this.fromServer, d]) : d;
    let offset = 0;
    while (this.fromServer.length - offset >= 5) {
      const len = this.fromServer.readUInt32BE(offset);
      if (len > MAX_PACKET) {
        this.protocolError(`upstream sent an SFTP packet of ${len} bytes`);
        return;
      }
      if (this.fromServer.length - offset < 4 + len) break;
      try {
        this.observeReply(this.fromServer.subarray(offset, offset + 4 + len));
      } catch {
        this.protocolError("malformed SFTP packet from upstream");
      }
      if (this.closed) return;
      offset += 4 + len;
    }
    // Forward bytes as they came; parsing only observes (a VERSION other than 3 closed the relay above).
    this.fromServer = this.fromServer.subarray(offset);
    if (!this.client.write(d)) this.upstream.pause();
  }

  private observeReply(p: Buffer) {
    const type = p[4];
    if (type === T.VERSION) {
      const version = new Reader(p, 5).u32();
      if (version !== SFTP_VERSION) this.protocolError(`upstream answered SFTP version ${version}, not ${SFTP_VERSION}`);
      return;
    }
    if (type !== T.HANDLE && type !== T.DATA && type !== T.STATUS) return;
    const r = new Reader(p, 5);
    const id = r.u32();
    const req = this.requests.get(id);
    if (!req) return;
    this.requests.delete(id);
    if (type === T.HANDLE && (req.op === "open" || req.op === "write")) this.handles.set(r.str().toString("hex"), { path: req.path, read: 0, written: 0 });
    else if (type === T.DATA && req.handle) {
      const h = this.handles.get(req.handle);
      if (h) h.read += r.u32();
    } else if (type === T.STATUS && !["open", "opendir", "read"].includes(req.op)) {
      const code = r.u32();
      this.record({ op: req.op, path: req.path, status: code === FX_OK ? "ok" : `error ${code}: ${safe(() => r.string())}` });
    }
  }

  private reply(id: number, code: number, message: string) {
    const msg = Buffer.from(message, "utf8");
    const body = Buffer.alloc(1 + 4 + 4 + 4 + msg.length + 4);
    let o = body.writeUInt8(T.STATUS, 0);
    o = body.writeUInt32BE(id, o);
    o = body.writeUInt32BE(code, o);
    o = body.writeUInt32BE(msg.length, o);
    o += msg.copy(body, o);
    body.writeUInt32BE(0, o); // language tag ""
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    this.client.write(Buffer.concat([len, body]));
  }

}

function flagLabel(flags: number): string {
  return [flags & PFLAGS.READ && "read", flags & PFLAGS.WRITE && "write", flags & PFLAGS.APPEND && "append", flags & PFLAGS.CREAT && "create", flags & PFLAGS.TRUNC && "truncate", flags & PFLAGS.EXCL && "excl"].filter(Boolean).join(",");
}

function safe(fn: () => string): string {
  try {
    return fn();
  } catch {
    return "";
  }
}

/** Bounds-checked reader: a short or lying packet throws, and the relay treats it as a protocol error. */
class Reader {
  constructor(
    private readonly b: Buffer,
    private o: number,
  ) {}
  u32(): number {
    if (this.o + 4 > this.b.length) throw new RangeError("short SFTP packet");
    const v = this.b.readUInt32BE(this.o);
    this.o += 4;
    return v;
  }
  str(): Buffer {
    const n = this.u32();
    if (this.o + n > this.b.length) throw new RangeError("short SFTP packet");
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  /**
   * A path or a name. A NUL in it is refused: a server in C may read only the part before it
   * (`/\0x`, a symlink to `/`), while the gateway would judge the whole.
   */
  string(): string {
    const bytes = this.str();
    if (bytes.includes(0)) throw new RangeError("NUL in an SFTP string");
    return bytes.toString("utf8");
  }
  skip(n: number) {
    this.o += n;
  }
}
