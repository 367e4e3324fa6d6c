import fs from "node:fs";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { isProcessAlive } from "@/lib/util/process-alive";

/**
 * The recording spool: bulk terminal output waits here, on local disk, between the moment the
 * gateway relays it and the moment the event writer stores it in the database.
 *
 * Why: relaying bulk output costs the gateway one read, one decrypt, one encrypt and one write
 * per packet; recording it costs as much again (deflate, building the statement, the database's
 * own work, which on PGlite runs on the gateway's thread). Done in line, a `cat` of a large file
 * ran at 0.1–0.4 of the direct speed. Spooled, the relay only appends the bytes to a file (page
 * cache, ~2.5 GB/s) and the writer packs and stores them at its own pace, yielding to the relay
 * while it is busy (event-writer.ts). Memory stays bounded however fast output arrives: the
 * queue holds only references.
 *
 * Each record is self-describing, so a spool left behind by a killed process is stored by the
 * next one (`recoverSpools`): the row's header (session, seq, time, kind, payload fields) as
 * JSON, then the bytes. Layout: u32 header length, header, u32 data length, data.
 *
 * Files are per process, in segments of SEGMENT_BYTES: the segment being appended to is
 * truncated whenever every record in it is stored, a full one is deleted then.
 */
export interface SpoolHeader {
  s: string;
  seq: number;
  t: number;
  k: string;
  /** payload fields other than the bytes (e.g. `ch`, `err`) */
  p: Record<string, unknown>;
}

export interface SpoolRef {
  readonly segment: SpoolSegment;
  /** file offset of the bytes */
  readonly pos: number;
  readonly len: number;
}

/** Past this many bytes on disk the recorder reports overflow: the database is not keeping up at all. */
export const MAX_SPOOL_BYTES = 8 * 2 ** 30;
/** Appends reach the file in batches of this size, or WRITE_DELAY_MS after the first of a batch. */
const WRITE_BATCH = 1024 * 1024;
const WRITE_DELAY_MS = 50;
/** A segment file takes appends up to this size; then the next one does, and a segment is deleted once all its records are stored. */
const SEGMENT_BYTES = 256 * 2 ** 20;

/** The process's spool: a sequence of segment files, so that a long stream never keeps one file growing. */
export class Spool {
  private current: SpoolSegment | null = null;
  private readonly live = new Set<SpoolSegment>();
  private next = 0;
  /** performance.now() of the last append: the event writer slows down while output streams in */
  lastAppendAt = -Infinity;

  constructor(readonly prefix: string) {}

  /** Bytes on disk awaiting the database. */
  get pendingBytes(): number {
    let n = 0;
    for (const s of this.live) n += s.pendingBytes;
    return n;
  }

  /** `data`: the record's bytes, or its bytes in parts (written one after the other, read back as one). */
  append(header: SpoolHeader, data: Buffer | readonly Buffer[]): SpoolRef {
    if (!this.current || this.current.size >= SEGMENT_BYTES) {
      this.current?.seal();
      this.current = new SpoolSegment(`${this.prefix}-${this.next++}.spool`, (seg) => this.live.delete(seg));
      this.live.add(this.current);
    }
    const ref = this.current.append(header, data);
    this.lastAppendAt = performance.now();
    return ref;
  }

  /** Everything appended so far into the files (appends otherwise reach them within WRITE_DELAY_MS). */
  flush() {
    for (const seg of this.live) seg.writeOut();
  }

  /** At shutdown: files whose records are all stored are removed, the rest stay for recovery. */
  close() {
    for (const seg of this.live) seg.close();
    this.current = null;
  }
}

export class SpoolSegment {
  private fd: number | null = null;
  size = 0;
  /** records appended and not yet stored */
  private outstanding = 0;
  private sealed = false;
  /** appended and not yet in the file: written together, WRITE_BATCH at a time or after WRITE_DELAY_MS */
  private unwritten: Buffer[] = [];
  private unwrittenBytes = 0;
  private writeTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly file: string,
    private readonly onGone: (seg: SpoolSegment) => void,
  ) {}

  get pendingBytes(): number {
    return this.outstanding ? this.size : 0;
  }

  append(header: SpoolHeader, data: Buffer | readonly Buffer[]): SpoolRef {
    if (this.fd === null) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      this.fd = fs.openSync(this.file, "w+", 0o600);
      this.size = 0;
    }
    const parts = Buffer.isBuffer(data) ? [data] : data;
    const len = parts.reduce((n, b) => n + b.length, 0);
    const head = Buffer.from(JSON.stringify(header));
    const frame = Buffer.allocUnsafe(8 + head.length);
    frame.writeUInt32BE(head.length, 0);
    head.copy(frame, 4);
    frame.writeUInt32BE(len, 4 + head.length);
    const ref = { segment: this, pos: this.size + frame.length, len };
    this.size += frame.length + len;
    this.outstanding++;
    // Not copied: the buffers are the caller's, who hands them over (as to a stream's write).
    this.unwritten.push(frame, ...parts);
    this.unwrittenBytes += frame.length + len;
    if (this.unwrittenBytes >= WRITE_BATCH) this.writeOut();
    else this.writeTimer ??= setTimeout(() => this.writeOut(), WRITE_DELAY_MS).unref();
    return ref;
  }

  /** Everything appended into the file, in one writev (one copy into the page cache, few syscalls). */
  writeOut() {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    if (!this.unwritten.length || this.fd === null) return;
    const bufs = this.unwritten;
    let pos = this.size - this.unwrittenBytes;
    this.unwritten = [];
    this.unwrittenBytes = 0;
    let done = fs.writevSync(this.fd, bufs, pos);
    // A short write (rare on regular files): the rest, buffer by buffer.
    for (const b of bufs) {
      if (done >= b.length) {
        done -= b.length;
        pos += b.length;
        continue;
      }
      writeFully(this.fd, b.subarray(done), pos + done);
      pos += b.length;
      done = 0;
    }
  }

  read(ref: SpoolRef): Buffer {
    if (this.fd === null) throw new Error(`spool: ${this.file} is closed`);
    if (ref.pos + ref.len > this.size - this.unwrittenBytes) this.writeOut();
    const buf = Buffer.allocUnsafe(ref.len);
    for (let off = 0; off < ref.len; ) {
      const n = fs.readSync(this.fd, buf, off, ref.len - off, ref.pos + off);
      if (n === 0) throw new Error(`spool: ${this.file} ends at ${ref.pos + off}, record needs ${ref.pos + ref.len}`);
      off += n;
    }
    return buf;
  }

  /** No more appends: the file goes once its records are stored. */
  seal() {
    this.sealed = true;
    this.writeOut();
    if (this.outstanding === 0) this.remove();
  }

  /** One of its records is in the database (or was given up with its session). */
  stored() {
    if (--this.outstanding > 0 || this.fd === null) return;
    this.outstanding = 0;
    if (this.sealed) this.remove();
    else {
      // the current segment is reused from the start
      this.dropUnwritten();
      fs.ftruncateSync(this.fd, 0);
      this.size = 0;
    }
  }

  private dropUnwritten() {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    this.unwritten = [];
    this.unwrittenBytes = 0;
  }

  close() {
    if (this.fd === null) return;
    this.writeOut();
    fs.closeSync(this.fd);
    this.fd = null;
    if (this.outstanding === 0) this.remove();
  }

  private remove() {
    this.dropUnwritten();
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    fs.rmSync(this.file, { force: true });
    this.onGone(this);
  }
}

function writeFully(fd: number, buf: Buffer, pos: number) {
  for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off, buf.length - off, pos + off);
}

export function spoolDir(): string {
  return path.resolve(/*turbopackIgnore: true*/ process.env.GATEHOUSE_SPOOL_DIR ?? path.join(process.env.GATEHOUSE_DATA_DIR ?? "./data", "spool"));
}

/** `<pid>-<process start ms>-<segment>.spool` */
const FILE = /^(\d+)-(\d+)-(\d+)\.spool$/;

/** This process's spool, shared through globalThis (Next's bundle and server.ts are one process). */
export function processSpool(): Spool {
  const g = globalThis as { __gatehouseSpool?: Spool };
  return (g.__gatehouseSpool ??= new Spool(path.join(spoolDir(), `${process.pid}-${Date.now()}`)));
}

/** Records of a spool file, in order, read one at a time; stops at a torn record (the process died mid-append). */
export function* readSpoolFile(file: string): Generator<{ header: SpoolHeader; data: Buffer }> {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    /** `len` bytes at `pos`, or null past the end of the file */
    const read = (pos: number, len: number): Buffer | null => {
      if (pos + len > size) return null;
      const buf = Buffer.allocUnsafe(len);
      for (let off = 0; off < len; ) {
        const n = fs.readSync(fd, buf, off, len - off, pos + off);
        if (n === 0) return null;
        off += n;
      }
      return buf;
    };
    for (let pos = 0; ; ) {
      const headLen = read(pos, 4);
      const head = headLen && read(pos + 4, headLen.readUInt32BE(0));
      const dataLen = head && read(pos + 4 + head.length, 4);
      const data = dataLen && read(pos + 8 + head.length, dataLen.readUInt32BE(0));
      if (!head || !data) return;
      yield { header: JSON.parse(head.toString("utf8")) as SpoolHeader, data };
      pos += 8 + head.length + data.length;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Spool files left by processes that are gone (a live process's files are its own business). A
 * file with this process's pid but not its start time is a previous process's: in a container
 * the gateway gets the same small pid on every start.
 */
export function orphanedSpools(dir = spoolDir()): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  // oldest first, and a process's segments in order: a session's records are recovered in seq order
  return names
    .map((n) => ({ n, m: FILE.exec(n) }))
    .filter((f): f is { n: string; m: RegExpExecArray } => !!f.m && (Number(f.m[1]) === process.pid ? !ownFile(f.n) : !isProcessAlive(Number(f.m[1]))))
    .sort((a, b) => Number(a.m[2]) - Number(b.m[2]) || Number(a.m[1]) - Number(b.m[1]) || Number(a.m[3]) - Number(b.m[3]))
    .map((f) => path.join(dir, f.n));
}

function ownFile(name: string): boolean {
  const own = (globalThis as { __gatehouseSpool?: Spool }).__gatehouseSpool;
  return !!own && name.startsWith(`${path.basename(own.prefix)}-`);
}
