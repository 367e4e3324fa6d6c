import type { ClientChannel } from "ssh2";

/**
 * SFTP packets written and read by hand on a subsystem channel, for what no SFTP client sends:
 * an INIT asking for version 6, request types version 3 does not have.
 */
export interface RawSftp {
  /** numbers as uint32, strings as SSH strings (length-prefixed), buffers as they are */
  send(type: number, ...fields: (number | string | Buffer)[]): void;
  /** the next packet from the server: its type and body (after the type byte), or null after `timeoutMs` */
  next(timeoutMs?: number): Promise<{ type: number; body: Buffer } | null>;
}

export function rawSftp(channel: ClientChannel): RawSftp {
  let buffered = Buffer.alloc(0);
  const waiting: (() => void)[] = [];
  channel.on("data", (d: Buffer) => {
    buffered = Buffer.concat([buffered, d]);
    for (const wake of waiting.splice(0)) wake();
  });
  const take = () => {
    if (buffered.length < 4 || buffered.length < 4 + buffered.readUInt32BE(0)) return null;
    const len = buffered.readUInt32BE(0);
    const packet = { type: buffered[4], body: buffered.subarray(5, 4 + len) };
    buffered = buffered.subarray(4 + len);
    return packet;
  };
  return {
    send(type, ...fields) {
      const parts = fields.map((f) => {
        if (typeof f === "number") return Buffer.from([f >>> 24, (f >>> 16) & 255, (f >>> 8) & 255, f & 255]);
        if (Buffer.isBuffer(f)) return f;
        const bytes = Buffer.from(f, "utf8");
        const len = Buffer.alloc(4);
        len.writeUInt32BE(bytes.length);
        return Buffer.concat([len, bytes]);
      });
      const body = Buffer.concat([Buffer.from([type]), ...parts]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      channel.write(Buffer.concat([len, body]));
    },
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const packet = take();
        if (packet) return packet;
        const left = deadline - Date.now();
        if (left <= 0) return null;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiting.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

/** A STATUS reply's code and message. */
export function statusOf(body: Buffer): { id: number; code: number; message: string } {
  const id = body.readUInt32BE(0);
  const code = body.readUInt32BE(4);
  const len = body.readUInt32BE(8);
  return { id, code, message: body.subarray(12, 12 + len).toString("utf8") };
}
