import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { writeBatcher } from "./client-channel";

/** A connected TCP pair on loopback: `sock` is the gateway's end, `peer` the client's. */
async function socketPair(): Promise<{ sock: net.Socket; peer: net.Socket; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  const peer = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  const sock = await accepted;
  return {
    sock,
    peer,
    close: () => {
      sock.destroy();
      peer.destroy();
      server.close();
    },
  };
}

/** How the socket's writes reached the kernel: one entry per `_write` / `_writev` call, with its chunk count. */
function countWrites(sock: net.Socket): { calls: number[] } {
  const seen = { calls: [] as number[] };
  const s = sock as unknown as { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const write = s._write.bind(sock);
  const writev = s._writev.bind(sock);
  s._write = (...a) => (seen.calls.push(1), write(...a));
  s._writev = (chunks, cb) => (seen.calls.push(chunks.length), writev(chunks, cb));
  return seen;
}

function received(peer: net.Socket, bytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  return new Promise((resolve) =>
    peer.on("data", (d: Buffer) => {
      parts.push(d);
      if ((n += d.length) >= bytes) resolve(Buffer.concat(parts));
    }),
  );
}

describe("writeBatcher", () => {
  let close = () => {};
  afterEach(() => close());

  it("sends the writes a read sets off as one writev: a client's WINDOW_ADJUST releases every output packet that waited for it", async () => {
    const pair = await socketPair();
    close = pair.close;
    writeBatcher(pair.sock);
    const calls = countWrites(pair.sock);
    const packets = [0, 1, 2, 3].map((i) => Buffer.alloc(32 * 1024, 97 + i));
    // ssh2 adds its own data listener after the connection is set up (once its crypto is ready)
    pair.sock.on("data", () => {
      for (const p of packets) pair.sock.write(p);
    });
    const got = received(pair.peer, 4 * 32 * 1024);
    pair.peer.write("window adjust");
    expect((await got).equals(Buffer.concat(packets))).toBe(true);
    expect(calls.calls).toEqual([4]);
  });

  it("still batches the writes the gateway makes itself (relayed output), and keeps their order with those of a read", async () => {
    const pair = await socketPair();
    close = pair.close;
    const batch = writeBatcher(pair.sock);
    const calls = countWrites(pair.sock);
    pair.sock.on("data", () => pair.sock.write("reply"));
    const got = received(pair.peer, 3 + 5);
    batch();
    pair.sock.write("out");
    pair.peer.write("x");
    expect((await got).toString()).toBe("outreply");
    expect(calls.calls.reduce((a, b) => a + b, 0)).toBe(2);
  });
});
