import type { ClassifiedRequest } from "@/lib/gateway/core/types";
import { isPersistenceAncestor, isPersistencePath } from "./persistence-paths";
import { flagLabel, FX_OK, PFLAGS, Reader, READ_EXTENSIONS, safe, SFTP_VERSION, T } from "./sftp-wire";

/**
 * What the SFTP packets relayed by SftpRelay (sftp.ts) ask and answer: each client request read
 * into the policy request it needs (if any), each reply matched to its request to follow handles
 * and record outcomes. Pure bookkeeping: no I/O but the recorder's.
 */
/** replies that answer a request id: STATUS, HANDLE, DATA, NAME, ATTRS, EXTENDED_REPLY */
const REPLIES: ReadonlySet<number> = new Set([T.STATUS, T.HANDLE, T.DATA, T.NAME, T.ATTRS, T.EXTENDED_REPLY]);

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

export class SftpRequests {
  /** request id → what it was, to label replies */
  private readonly requests = new Map<number, { op: string; path: string; handle?: string }>();
  private readonly handles = new Map<string, HandleInfo>();

  constructor(private readonly record: (e: SftpEvent) => void) {}

  /** The channel closed: what was still open is recorded as closed with it. */
  closeAll() {
    for (const [, h] of this.handles) this.record({ op: "close", path: h.path, bytes: h.read + h.written, status: "connection closed" });
    this.handles.clear();
  }

  /**
   * Reads one client packet; returns the policy request when it needs a decision. Records the
   * operations that do not need one.
   */
  inspect(p: Buffer): { id: number; req: ClassifiedRequest; event: SftpEvent; paths: string[] } | null {
    const type = p[4];
    const r = new Reader(p, 5);
    const id = r.u32();
    // An id still awaiting its reply, reused, would label the first reply (a handle) with the
    // second request's path: a handle to ~/.ssh/authorized_keys then passes for /tmp/x (FSETSTAT).
    if (this.requests.has(id)) throw new RangeError(`SFTP request id ${id} reused before its reply`);
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
          return readable ? { ...w, req: { ...w.req, unmaskable: "transfer" } } : w;
        }
        return { id, req: { action: "read", kind: "read", tables: [], functions: [], text: `sftp read ${path}`, unmaskable: "transfer" }, event: { op: "read", path }, paths: [] };
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
        // the data as a string: a length claiming more than the packet holds is a protocol error
        const data = r.str();
        if (h) h.written += data.length;
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
      case T.FSETSTAT: {
        // A handle the gateway did not see opened (its reply consumed under a reused id) may be any
        // file: decided as unknown, never as an ordinary write.
        const h = this.handles.get(r.str().toString("hex"));
        return h ? decideWrite("setstat", h.path) : decideWrite("setstat", "(handle)", undefined, "unknown");
      }
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

  /** The gateway answered request `id` itself (refused): no reply from upstream will come for it. */
  answered(id: number) {
    this.requests.delete(id);
  }

  /** Reads one reply from upstream, to label what follows; returns why it breaks the protocol, if it does. */
  observeReply(p: Buffer): string | null {
    const type = p[4];
    if (type === T.VERSION) {
      const version = new Reader(p, 5).u32();
      return version === SFTP_VERSION ? null : `upstream answered SFTP version ${version}, not ${SFTP_VERSION}`;
    }
    if (!REPLIES.has(type)) return null;
    const r = new Reader(p, 5);
    const id = r.u32();
    const req = this.requests.get(id);
    if (!req) return null;
    this.requests.delete(id); // whatever the reply, the request is answered: its id is free again
    if (type === T.HANDLE && (req.op === "open" || req.op === "write")) this.handles.set(r.str().toString("hex"), { path: req.path, read: 0, written: 0 });
    else if (type === T.DATA && req.handle) {
      const h = this.handles.get(req.handle);
      if (h) h.read += r.u32();
    } else if (type === T.STATUS && !["open", "opendir", "read"].includes(req.op)) {
      const code = r.u32();
      this.record({ op: req.op, path: req.path, status: code === FX_OK ? "ok" : `error ${code}: ${safe(() => r.string())}` });
    }
    return null;
  }
}
