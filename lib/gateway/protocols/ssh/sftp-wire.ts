/**
 * SFTP version 3's wire format as the relay (sftp.ts) reads it: packet and status codes, open
 * flags, the extensions that only read, a bounds-checked reader and the STATUS reply the gateway
 * answers a refusal with (draft-ietf-secsh-filexfer-02).
 */
export const T = {
  INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, LSTAT: 7, FSTAT: 8, SETSTAT: 9, FSETSTAT: 10, OPENDIR: 11, READDIR: 12,
  REMOVE: 13, MKDIR: 14, RMDIR: 15, REALPATH: 16, STAT: 17, RENAME: 18, READLINK: 19, SYMLINK: 20, EXTENDED: 200,
  STATUS: 101, HANDLE: 102, DATA: 103, NAME: 104, ATTRS: 105, EXTENDED_REPLY: 201,
} as const;
/**
 * The one version spoken: packets are read in version 3's layout, so a client asking for a later
 * one (whose OPEN, RENAME and LINK read differently) is offered 3, and an upstream answering
 * anything else is cut off. A request type version 3 does not have (LINK, BLOCK, …) is answered
 * here as unsupported, never forwarded unread.
 */
export const SFTP_VERSION = 3;
export const V3_REQUESTS: ReadonlySet<number> = new Set([
  T.OPEN, T.CLOSE, T.READ, T.WRITE, T.LSTAT, T.FSTAT, T.SETSTAT, T.FSETSTAT, T.OPENDIR, T.READDIR, T.REMOVE, T.MKDIR, T.RMDIR,
  T.REALPATH, T.STAT, T.RENAME, T.READLINK, T.SYMLINK, T.EXTENDED,
]);
export const FX_PERMISSION_DENIED = 3;
export const FX_OP_UNSUPPORTED = 8;
export const FX_OK = 0;
export const PFLAGS = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 0x10, EXCL: 0x20 };
/** extensions that only read; any other extension is decided as unknown */
export const READ_EXTENSIONS = new Set(["statvfs@openssh.com", "fstatvfs@openssh.com", "limits@openssh.com", "expand-path@openssh.com", "home-directory", "users-groups-by-id@openssh.com"]);

/** An SSH_FXP_STATUS reply: `code` with its message (language tag ""). */
export function statusPacket(id: number, code: number, message: string): Buffer {
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
  return Buffer.concat([len, body]);
}

/**
 * SSH_FXP_SYMLINK's two paths: OpenSSH's sftp-server (and dropbear's) read them in the opposite
 * order from the draft, target first and then the link. ssh2-based clients (banner "ssh2js")
 * choose the order by the server's banner: OpenSSH's for a server that says OpenSSH or dropbear,
 * the draft's otherwise. Through the gateway (banner "Gatehouse") they send the draft's, which an
 * OpenSSH upstream reads reversed: a link named after the target, made in the home directory,
 * pointing at the path meant for the link. For such a client in front of such a host the relay
 * puts the paths in the order the client would have sent the host directly.
 */
const ORDERS_SYMLINK_BY_BANNER = /^SSH-2\.0-ssh2js/;
const SYMLINK_REVERSED = /^SSH-2\.0-(?:OpenSSH|dropbear)/;
export function symlinkNeedsSwap(clientIdent: string, upstreamIdent: string): boolean {
  return ORDERS_SYMLINK_BY_BANNER.test(clientIdent) && SYMLINK_REVERSED.test(upstreamIdent);
}

/** The SYMLINK packet with its two paths the other way round (bounds-checked like any read). */
export function swapSymlinkPaths(packet: Buffer): Buffer {
  const r = new Reader(packet, 9);
  const first = r.str();
  const second = r.str();
  const len = Buffer.alloc(4);
  const out = Buffer.concat([packet.subarray(0, 9), len, second, len, first]);
  out.writeUInt32BE(out.length - 4, 0);
  out.writeUInt32BE(second.length, 9);
  out.writeUInt32BE(first.length, 13 + second.length);
  return out;
}

export function flagLabel(flags: number): string {
  return [flags & PFLAGS.READ && "read", flags & PFLAGS.WRITE && "write", flags & PFLAGS.APPEND && "append", flags & PFLAGS.CREAT && "create", flags & PFLAGS.TRUNC && "truncate", flags & PFLAGS.EXCL && "excl"].filter(Boolean).join(",");
}

export function safe(fn: () => string): string {
  try {
    return fn();
  } catch {
    return "";
  }
}

/** Bounds-checked reader: a short or lying packet throws, and the relay treats it as a protocol error. */
export class Reader {
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
