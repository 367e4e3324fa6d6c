import type { Masker } from "@/lib/gateway/masking";
import { scrubBytes, scrubText, startsAcross } from "./credential-scrub";
import { asTextOrBase64, OutputPacker, PACK_MIN } from "./packed-output";
import type { SessionRecorder } from "./recorder";

/**
 * Records terminal channels into session events in the format of TERMINAL.md. Output is
 * coalesced (one event per COALESCE_MS or COALESCE_BYTES per channel and stream), because a
 * busy terminal writes thousands of tiny chunks a second and every event costs a row.
 *
 * Lossless: bytes are split only at UTF-8 character boundaries; a chunk that is not valid
 * UTF-8 (or holds a NUL, which jsonb cannot store) is recorded as base64 rather than through a
 * lossy decode, so a recording's bytes equal the bytes the client received. Large chunks are
 * stored as bytes (spooled, deflated when that pays: packed-output.ts) and read back as text/base64.
 *
 * Input is recorded too, except while the terminal shows a password prompt: then only the
 * number of keystrokes is kept. Command lines are reconstructed from input best effort (line
 * editing, history and completion are not understood; such lines are marked `edited`).
 */
const COALESCE_MS = 25;
const COALESCE_BYTES = 32 * 1024;
const TAIL_BYTES = 200;
/**
 * The output's last line asks for a secret: the word anywhere in the line, which ends in a colon.
 * Requiring the word right before the colon missed psql's `\password` and `createuser -P`
 * confirmation ("Enter it again: "), ssh-keygen ("Enter passphrase (empty for no passphrase): ",
 * "Enter same passphrase again: "), OpenSSL ("Enter PEM pass phrase:") and "Password (will be
 * hidden): ", so the typed secret went into the recording. A false positive costs only the
 * keystrokes of one line (their count is still recorded).
 */
const PASSWORD_PROMPT = /(password|passwd|pass ?phrase|passcode|\bpin\b|enter it again)[^\n]*: *$/i;

export function looksLikePasswordPrompt(tail: string): boolean {
  return PASSWORD_PROMPT.test(stripAnsi(tail));
}

interface PendingOutput {
  parts: Buffer[];
  bytes: number;
  timer: NodeJS.Timeout | null;
}

interface ChannelState {
  /** the channel's own decision's masker, for its input: channels of one connection differ */
  masker: Masker | null;
  out: Map<"o" | "e", PendingOutput>;
  packer: OutputPacker;
  carry: Map<"o" | "e" | "i", Buffer>;
  /** typed text that may be the start of a credential, recorded once it is known not to be (credential-scrub.ts) */
  heldInput: string;
  /** the last TAIL_BYTES of output, to notice password prompts (decoded only when input arrives) */
  tail: Buffer;
  line: string;
  edited: boolean;
  escape: boolean;
  hidden: number;
  bytesOut: number;
  bytesIn: number;
}

export class TerminalRecorder {
  private readonly channels = new Map<number, ChannelState>();

  constructor(private readonly recorder: SessionRecorder) {}

  /** `masker`: the masking the channel's own decision applies (its input is recorded through it). */
  start(ch: number, info: { mode: "shell" | "exec"; cols: number; rows: number; term: string; command?: string }, masker: Masker | null = null) {
    this.channels.set(ch, { masker, out: new Map(), packer: new OutputPacker(), carry: new Map(), heldInput: "", tail: EMPTY, line: "", edited: false, escape: false, hidden: 0, bytesOut: 0, bytesIn: 0 });
    this.recorder.record("term.start", { ch, ...info });
  }

  /** Output exactly as sent to the client (already masked when masking applies). */
  output(ch: number, data: Buffer, stderr = false) {
    const st = this.channels.get(ch);
    if (!st || data.length === 0) return;
    st.bytesOut += data.length;
    const key = stderr ? "e" : "o";
    // Only the end matters for noticing a password prompt. Kept as bytes: decoding every chunk
    // cost ~6 µs per 32 KiB packet of bulk output; a character cut at the front is harmless.
    st.tail = data.length >= TAIL_BYTES ? data.subarray(-TAIL_BYTES) : Buffer.concat([st.tail, data]).subarray(-TAIL_BYTES);
    let p = st.out.get(key);
    if (!p) st.out.set(key, (p = { parts: [], bytes: 0, timer: null }));
    p.parts.push(data);
    p.bytes += data.length;
    if (p.bytes >= COALESCE_BYTES) this.flushOutput(ch, key);
    else p.timer ??= setTimeout(() => this.flushOutput(ch, key), COALESCE_MS);
  }

  input(ch: number, data: Buffer) {
    const st = this.channels.get(ch);
    if (!st || data.length === 0) return;
    st.bytesIn += data.length;
    // Keep the order of events: output shown before this keystroke is recorded before it.
    this.flushOutput(ch, "o");
    this.flushOutput(ch, "e");
    const secret = st.hidden > 0 || looksLikePasswordPrompt(st.tail.toString("utf8"));
    const { text, raw } = decodeChunk(st.carry, "i", data);
    if (secret) {
      st.hidden += data.length;
      if (/[\r\n]/.test(text)) {
        this.recorder.record("term.i", { ch, hidden: st.hidden });
        st.hidden = 0;
        st.tail = EMPTY;
        st.line = "";
      }
      return;
    }
    const masker = st.masker;
    if (raw) this.recorder.record("term.i", { ch, b64: scrubBytes(raw, true).body.toString("base64") });
    const typed = scrubText(st.heldInput + text, false);
    st.heldInput = typed.hold;
    if (typed.text) this.recorder.record("term.i", { ch, d: masker ? masker.maskText(typed.text) : typed.text });
    for (const line of this.reconstruct(st, text)) {
      this.recorder.record("term.cmd", { ch, text: masker ? masker.maskText(line.text) : line.text, reconstructed: true, ...(line.edited ? { edited: true } : {}) });
    }
  }

  resize(ch: number, cols: number, rows: number) {
    if (!this.channels.has(ch)) return;
    this.flushOutput(ch, "o");
    this.recorder.record("term.r", { ch, cols, rows });
  }

  exit(ch: number, status: { code?: number | null; signal?: string | null }) {
    const st = this.channels.get(ch);
    if (!st) return;
    this.flushChannel(ch);
    this.recorder.record("term.exit", { ch, ...(status.code != null ? { code: status.code } : {}), ...(status.signal ? { signal: status.signal } : {}) });
  }

  /** Counters for the channel's result event. */
  bytes(ch: number): { bytesOut: number; bytesIn: number } {
    const st = this.channels.get(ch);
    return { bytesOut: st?.bytesOut ?? 0, bytesIn: st?.bytesIn ?? 0 };
  }

  /** Flush the channel's coalesced output and forget it. */
  close(ch: number) {
    this.flushChannel(ch);
    this.channels.delete(ch);
  }

  flushAll() {
    for (const ch of this.channels.keys()) this.flushChannel(ch);
  }

  private flushChannel(ch: number) {
    const st = this.channels.get(ch);
    if (!st) return;
    if (st.heldInput) {
      this.recorder.record("term.i", { ch, d: scrubText(st.heldInput, true).text });
      st.heldInput = "";
    }
    for (const key of ["o", "e"] as const) {
      this.flushOutput(ch, key);
      // What is left (the start of what may be a credential, an incomplete character) is recorded as it is now.
      const rest = st.carry.get(key);
      if (rest?.length) {
        st.carry.delete(key);
        const err = key === "e" ? { err: true } : {};
        const body = scrubBytes(rest, true).body;
        this.recorder.record("term.o", { ch, ...asTextOrBase64(body), ...err });
      }
    }
  }

  /**
   * One `term.o` event for the output coalesced so far: packed when large and compressible
   * (packed-output.ts), else text, or base64 when the bytes are not text. A character split at
   * the end waits for the next chunk.
   */
  private flushOutput(ch: number, key: "o" | "e") {
    const st = this.channels.get(ch);
    const p = st?.out.get(key);
    if (!st || !p || p.parts.length === 0) return;
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    const prev = st.carry.get(key);
    const held = prev?.length ? prev : null;
    // What the last flush held back goes in front. Behind it, one bulk packet is scrubbed alone when
    // the two cannot hold a credential together: copying the packet behind a byte or two (a fifth of
    // the packets of `yes` output end in an "e", a quarter of random ones in an incomplete character)
    // cost more than the rest of recording it.
    const alone = held && p.parts.length === 1 && p.parts[0].length >= PACK_MIN && !startsAcross(held, p.parts[0]);
    const front = alone ? held : null;
    const chunks = held && !alone ? [held, ...p.parts] : p.parts;
    // One chunk (bulk output arrives in 32 KiB packets) needs no copy: nothing below keeps `buf`
    // beyond this call except as copies (carry, spool, packed or in-memory rows).
    const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    p.parts = [];
    p.bytes = 0;
    const end = completeUtf8Length(buf);
    // A credential split across writes is held back until complete, then recorded replaced.
    const { body, hold } = scrubBytes(buf.subarray(0, end), false);
    const rest = hold ? Buffer.concat([hold, buf.subarray(end)]) : end < buf.length ? Buffer.from(buf.subarray(end)) : null;
    if (rest) st.carry.set(key, rest);
    else st.carry.delete(key);
    const length = (front?.length ?? 0) + body.length;
    if (length === 0) return;
    const err = key === "e" ? { err: true } : {};
    // Bulk output is stored as bytes (deflated, or spooled raw when it does not compress); live viewers fetch it.
    if (length >= PACK_MIN) this.recorder.recordBulk("term.o", { ch, ...err }, front ? [front, body] : body, st.packer);
    else this.recorder.record("term.o", { ch, ...asTextOrBase64(front ? Buffer.concat([front, body]) : body), ...err });
  }

  private *reconstruct(st: ChannelState, text: string): Generator<{ text: string; edited: boolean }> {
    for (const c of text) {
      if (st.escape) {
        // CSI/SS3 sequences (arrows, Home, F-keys) end with a letter or "~"
        if (/[A-Za-z~]/.test(c)) st.escape = false;
        continue;
      }
      if (c === "\r" || c === "\n") {
        if (st.line.trim()) yield { text: st.line, edited: st.edited };
        st.line = "";
        st.edited = false;
      } else if (c === "\x7f" || c === "\b") st.line = st.line.slice(0, -1);
      else if (c === "\x03" || c === "\x15") {
        st.line = "";
        st.edited = false;
      } else if (c === "\x1b") {
        st.escape = true;
        st.edited = true;
      } else if (c === "\t") st.edited = true;
      else if (c >= " ") st.line += c;
    }
  }
}

/**
 * Decodes the complete UTF-8 prefix of carry+data; an incomplete character at the end waits for
 * the next chunk. Returns `raw` instead of text when the bytes are not valid UTF-8.
 */
export function decodeChunk(carry: Map<string, Buffer>, key: string, data: Buffer): { text: string; raw: Buffer | null } {
  const prev = carry.get(key);
  const buf = prev?.length ? Buffer.concat([prev, data]) : data;
  const end = completeUtf8Length(buf);
  if (end < buf.length) carry.set(key, Buffer.from(buf.subarray(end)));
  else carry.delete(key);
  const body = buf.subarray(0, end);
  if (body.length === 0) return { text: "", raw: null };
  // NUL is valid UTF-8 but jsonb cannot store it (serialize() would substitute U+2400): bytes
  // with a NUL are recorded as base64, so the recording stays byte-exact.
  if (body.includes(0)) return { text: "", raw: Buffer.from(body) };
  try {
    return { text: STRICT.decode(body), raw: null };
  } catch {
    return { text: "", raw: Buffer.from(body) };
  }
}

const EMPTY = Buffer.alloc(0);
const STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Length of buf without a trailing, incomplete (but so far valid-looking) UTF-8 sequence. */
export function completeUtf8Length(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

function stripAnsi(s: string): string {
  return s.replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]/g, "").replace(/\x1b\][^\x07]*(\x07|\x1b\\)/g, "");
}
