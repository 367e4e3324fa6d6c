import type { ClientSide } from "@/lib/gateway/protocols/ssh/terminal-channel";
import { completeUtf8Length } from "@/lib/gateway/recorder/terminal";

/** Per stream: what an agent gets back of stdout, and of stderr. */
export const MAX_OUTPUT_BYTES = 1 << 20;

/** Keeps the first MAX_OUTPUT_BYTES of one stream and counts the rest. */
class CappedBuffer {
  private parts: Buffer[] = [];
  private kept = 0;
  total = 0;

  push(data: Buffer) {
    this.total += data.length;
    const room = MAX_OUTPUT_BYTES - this.kept;
    if (room <= 0) return;
    const part = data.length > room ? data.subarray(0, room) : data;
    this.parts.push(Buffer.from(part));
    this.kept += part.length;
  }

  get truncated() {
    return this.total > this.kept;
  }

  /** UTF-8 text; a character cut by the cap is dropped rather than turned into U+FFFD. */
  text(): string {
    const buf = Buffer.concat(this.parts);
    return buf.subarray(0, this.truncated ? completeUtf8Length(buf) : buf.length).toString("utf8");
  }
}

/**
 * The MCP side of a TerminalChannel: what a native client would receive goes into capped
 * buffers (already masked by the channel). Output is always accepted, so a chatty command runs
 * to its end instead of blocking on a full buffer; stdin is closed at once (like `ssh host cmd
 * < /dev/null`), so a command that reads it gets EOF instead of waiting for the timeout.
 */
export class BufferedClient implements ClientSide {
  readonly stdout = new CappedBuffer();
  readonly stderr = new CappedBuffer();
  status: { code: number | null; signal?: string | null } = { code: null };
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;
  private closeHandlers: (() => void)[] = [];
  private done = false;

  constructor() {
    this.ended = new Promise((r) => (this.resolveEnded = r));
  }

  get truncated() {
    return this.stdout.truncated || this.stderr.truncated;
  }

  write(data: Buffer): boolean {
    this.stdout.push(data);
    return true;
  }
  writeStderr(data: Buffer) {
    this.stderr.push(data);
  }
  onData() {}
  onEof(fn: () => void) {
    queueMicrotask(fn);
  }
  onClose(fn: () => void) {
    this.closeHandlers.push(fn);
  }
  onDrain() {}
  pause() {}
  resume() {}
  exit(status: { code: number | null; signal?: string | null }) {
    this.status = status;
  }
  end() {
    if (this.done) return;
    this.done = true;
    this.resolveEnded();
    for (const fn of this.closeHandlers.splice(0)) fn();
  }
}
