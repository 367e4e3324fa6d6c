import type net from "node:net";

/** Bytes gathered before a socket write during one pump run. */
const OUT_CHUNK = 256 * 1024;

/**
 * What the relay sends the client, in one socket write per batch of upstream frames (at the end
 * of each pump run, before it awaits, or every OUT_CHUNK bytes). Frames forwarded unchanged are
 * views into the received chunk, so consecutive ones merge back into a single view without
 * copying; rebuilt (masked) rows are concatenated once. One write per row cost more than the
 * masking itself on large results.
 */
export class ClientOutput {
  private out: Buffer[] = [];
  private bytes = 0;
  /** the client's socket buffer is full: stop reading upstream until it drains */
  congested = false;
  /** after a fatal error nothing more reaches the client (fail closed) */
  closed = false;

  constructor(
    private readonly client: net.Socket,
    /** `congested` changed */
    private readonly onFlow: () => void,
  ) {
    client.on("drain", () => {
      this.congested = false;
      onFlow();
    });
  }

  write(buf: Buffer) {
    if (this.closed) return;
    const last = this.out.length ? this.out[this.out.length - 1] : null;
    if (last && last.buffer === buf.buffer && last.byteOffset + last.length === buf.byteOffset) {
      // Physically adjacent in memory: the merged view holds exactly last's bytes then buf's.
      this.out[this.out.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + buf.length);
    } else this.out.push(buf);
    this.bytes += buf.length;
    if (this.bytes >= OUT_CHUNK) this.flush();
  }

  flush() {
    if (this.bytes === 0) return;
    const data = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out, this.bytes);
    this.out = [];
    this.bytes = 0;
    if (!this.client.write(data)) {
      this.congested = true;
      this.onFlow();
    }
  }
}
