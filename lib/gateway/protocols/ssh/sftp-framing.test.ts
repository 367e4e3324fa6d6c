import { EventEmitter } from "node:events";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ClassifiedRequest } from "@/lib/gateway/core/types";
import { SftpRelay } from "./sftp";
import { SftpRequests, type SftpEvent } from "./sftp-requests";
import { T } from "./sftp-wire";

/**
 * The SFTP framing SftpRelay reads from the client (and the request bodies SftpRequests reads),
 * driven with fake channels: whatever the client sends, split however, the relay forwards whole
 * packets or ends the channel with a protocol error, and never forwards what policy refused.
 */
const MAX_PACKET = 1 << 20;

type Field = number | string | Buffer;
function body(type: number, ...fields: Field[]): Buffer {
  const parts = fields.map((f) => {
    if (typeof f === "number") {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(f >>> 0);
      return b;
    }
    if (Buffer.isBuffer(f)) return f;
    const s = Buffer.from(f, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(s.length);
    return Buffer.concat([len, s]);
  });
  return Buffer.concat([Buffer.from([type]), ...parts]);
}
const frame = (b: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
const pkt = (type: number, ...fields: Field[]) => frame(body(type, ...fields));
const u64 = Buffer.alloc(8);
const INIT = pkt(T.INIT, 3);

class FakeChannel extends EventEmitter {
  written: Buffer[] = [];
  closed = 0;
  stderr = Object.assign(new EventEmitter(), { write: () => true });
  write(b: Buffer) {
    this.written.push(Buffer.from(b));
    return true;
  }
  pause() {}
  resume() {}
  close() {
    this.closed++;
  }
  end() {}
  exit() {}
}

/** Denies what a cautious policy would: admin and unknown kinds, and any path naming "forbidden". */
function harness() {
  const client = new FakeChannel();
  const upstream = new FakeChannel();
  const events: SftpEvent[] = [];
  const decided: ClassifiedRequest[] = [];
  const gw = {
    recorder: { record: (_kind: string, e: SftpEvent) => events.push(e) },
    decide: async (req: ClassifiedRequest) => {
      decided.push(req);
      const refuse = req.kind === "admin" || req.kind === "unknown" || req.text.includes("forbidden");
      return refuse ? { type: "deny", reason: "test policy" } : { type: "allow" };
    },
  };
  const paths = { judge: async (req: ClassifiedRequest) => req };
  const relay = new SftpRelay(gw as never, 0, client as never, upstream as never, paths as never);
  relay.start();
  const settle = async () => {
    for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
  };
  return { client, upstream, events, decided, settle, send: (d: Buffer) => client.emit("data", d), reply: (d: Buffer) => upstream.emit("data", d) };
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    if (c > prev) out.push(bytes.subarray(prev, c));
    prev = Math.max(prev, c);
  }
  return out;
}

const name = fc.oneof(fc.constantFrom("/tmp/a", "/tmp/forbidden", "notes.txt", "/home/u/.ssh/authorized_keys", "/etc/passwd"), fc.string({ maxLength: 12 }).map((s) => `/tmp/${s.replace(/\0/g, "")}`));
/** an SSH string (uint32 length, then the bytes) of arbitrary bytes */
const sshString = (b: Buffer) => Buffer.concat([frame(b).subarray(0, 4), b]);
const handle = fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => sshString(Buffer.from(a)));
const request = fc.tuple(fc.integer({ min: 1, max: 2 ** 32 - 1 }), name, name, handle, fc.nat({ max: 0x3f }), fc.uint8Array({ maxLength: 64 })).chain(([id, a, b, h, flags, data]) =>
  fc.constantFrom(
    pkt(T.OPEN, id, a, flags, 0),
    pkt(T.OPENDIR, id, a),
    pkt(T.READ, id, h, u64, 100),
    pkt(T.WRITE, id, h, u64, Buffer.from(data).length, Buffer.from(data)),
    pkt(T.CLOSE, id, h),
    pkt(T.STAT, id, a),
    pkt(T.REALPATH, id, a),
    pkt(T.REMOVE, id, a),
    pkt(T.MKDIR, id, a, 0),
    pkt(T.SETSTAT, id, a, 0),
    pkt(T.RENAME, id, a, b),
    pkt(T.SYMLINK, id, a, b),
    pkt(T.EXTENDED, id, "statvfs@openssh.com", a),
    pkt(T.EXTENDED, id, "posix-rename@openssh.com", a, b),
    pkt(T.EXTENDED, id, "copy-data", h),
  ),
);

/** Everything the relay did: forwarded packets, replies of its own, the recording, closes. */
async function run(chunks: Buffer[]) {
  const h = harness();
  for (const c of chunks) h.send(c);
  await h.settle();
  return { upstream: h.upstream.written, client: h.client.written, events: h.events, closed: h.client.closed, h };
}

describe("SftpRelay framing (client to upstream)", () => {
  it("a packet sequence split at arbitrary points is relayed, refused and recorded exactly as when sent whole", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 16 }), async (reqs, cuts) => {
        // ids unique, as a client's are while it awaits their replies (a reused one ends the channel)
        const unique = reqs.map((p, i) => {
          const q = Buffer.from(p);
          q.writeUInt32BE(i + 1, 5);
          return q;
        });
        const bytes = Buffer.concat([INIT, ...unique]);
        const whole = await run([bytes]);
        const pieces = await run(split(bytes, cuts));
        expect(pieces.upstream).toEqual(whole.upstream);
        expect(pieces.client).toEqual(whole.client);
        expect(pieces.events).toEqual(whole.events);
        expect(whole.closed).toBe(0);
        // every forwarded write is one whole packet, and none names a path policy refused
        for (const p of whole.upstream) {
          expect(p.readUInt32BE(0) + 4).toBe(p.length);
          if (p[4] !== T.READ && p[4] !== T.WRITE && p[4] !== T.CLOSE && p[4] !== T.EXTENDED && p[4] !== T.STAT && p[4] !== T.REALPATH && p[4] !== T.OPENDIR) {
            expect(p.includes("forbidden")).toBe(false);
          }
        }
        expect(whole.upstream.length + whole.client.length).toBe(reqs.length + 1);
      }),
      { numRuns: 60 },
    );
  });

  it("arbitrary bytes, in arbitrary chunks, never throw: whole packets go upstream, or the channel ends with a recorded protocol error", async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 8 }), async (init, junk, cuts) => {
        const bytes = Buffer.concat([init ? INIT : Buffer.alloc(0), Buffer.from(junk)]);
        let r!: Awaited<ReturnType<typeof run>>;
        // a synchronous throw would escape client.emit("data") into ssh2
        await expect((async () => (r = await run(split(bytes, cuts))))()).resolves.toBeDefined();
        for (const p of r.upstream) expect(p.readUInt32BE(0) + 4).toBe(p.length);
        const forwarded = r.upstream.reduce((n, p) => n + p.length, 0);
        expect(forwarded).toBeLessThanOrEqual(bytes.length);
        const errors = r.events.filter((e) => e.op === "error");
        // recorded once: what the client sends after the error is dropped, not recorded again
        expect(errors.length).toBe(r.closed ? 1 : 0);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ["0", 0],
    ["just above the cap", MAX_PACKET + 1],
    ["0x7fffffff", 0x7fffffff],
    ["0xffffffff (wraps when signed)", 0xffffffff],
  ])("a claimed length of %s ends the channel at its 4-byte header, before any body is buffered", async (_, len) => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(len);
    const r = await run([INIT, header]);
    expect(r.closed).toBeGreaterThan(0);
    expect(r.upstream).toEqual([INIT]);
    expect(r.events).toContainEqual(expect.objectContaining({ op: "error", path: "", status: `client sent an SFTP packet of ${len} bytes` }));
  });

  it("after a protocol error, more client data and upstream replies are dropped and the error is recorded once", async () => {
    const h = harness();
    h.send(INIT);
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(0);
    h.send(bad);
    await h.settle();
    h.send(bad);
    h.send(pkt(T.OPEN, 1, "/tmp/x", 1, 0));
    h.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 1]));
    h.reply(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    h.reply(pkt(T.STATUS, 1, 0, "", ""));
    await h.settle();
    expect(h.events.filter((e) => e.op === "error")).toEqual([expect.objectContaining({ status: "client sent an SFTP packet of 0 bytes" })]);
    expect(h.upstream.written).toEqual([INIT]);
    expect(h.client.written).toEqual([]);
  });

  it("a claimed length at the cap waits for its bytes without allocating them, and is relayed once they arrive", async () => {
    const h = harness();
    h.send(INIT);
    const big = pkt(T.WRITE, 9, "h", u64, MAX_PACKET - 22, Buffer.alloc(MAX_PACKET - 22, 1));
    expect(big.length).toBe(4 + MAX_PACKET);
    h.send(big.subarray(0, 5));
    await h.settle();
    expect(h.client.closed).toBe(0);
    expect(h.upstream.written).toEqual([INIT]);
    h.send(big.subarray(5));
    await h.settle();
    expect(h.upstream.written.length).toBe(2);
    expect(h.upstream.written[1].equals(big)).toBe(true); // (toEqual on a MiB is slow)
  });

  it("length 1 (a type byte only): an INIT or a request without its id is a protocol error, nothing forwarded", async () => {
    for (const [pre, type] of [[[], T.INIT], [[INIT], T.OPEN], [[INIT], T.STAT], [[INIT], 77]] as const) {
      const r = await run([...pre, frame(Buffer.from([type]))]);
      expect(r.closed, `type ${type}`).toBeGreaterThan(0);
      expect(r.upstream).toEqual([...pre]);
      expect(r.events).toContainEqual(expect.objectContaining({ op: "error", status: "malformed SFTP packet from the client" }));
    }
  });

  // Each request truncated at every byte inside its fields (its length header telling the truth):
  // a decided request missing a field must never reach upstream.
  it.each([
    ["OPEN", body(T.OPEN, 5, "/tmp/forbidden/x", 0x1a, 0)],
    ["REMOVE", body(T.REMOVE, 5, "/tmp/forbidden")],
    ["RENAME", body(T.RENAME, 5, "/tmp/a", "/tmp/forbidden")],
    ["SETSTAT", body(T.SETSTAT, 5, "/tmp/forbidden", 0)],
    ["SYMLINK", body(T.SYMLINK, 5, "/tmp/a", "/tmp/forbidden")],
    ["EXTENDED posix-rename", body(T.EXTENDED, 5, "posix-rename@openssh.com", "/tmp/a", "/tmp/forbidden")],
    ["EXTENDED unknown", body(T.EXTENDED, 5, "copy-data@forbidden")],
  ])("a truncated %s ends the channel or is refused; never forwarded", async (_, full) => {
    // the last field (attrs flags, an extension's name) may be cut only where a field ends
    for (let cut = 1; cut < full.length; cut++) {
      const r = await run([INIT, frame(full.subarray(0, cut))]);
      expect(r.upstream, `cut at ${cut}`).toEqual([INIT]);
      const refused = r.client.length === 1 && r.client[0].readUInt32BE(9) === 3;
      expect(r.closed > 0 || refused, `cut at ${cut}`).toBe(true);
    }
  });
});

describe("SftpRequests (request and reply bodies)", () => {
  it("arbitrary request and reply bodies throw nothing but the reader's RangeError", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (type, rest) => {
        const p = frame(Buffer.concat([Buffer.from([type]), Buffer.from(rest)]));
        const s = new SftpRequests(() => {});
        for (const f of [() => s.inspect(p), () => s.observeReply(p)]) {
          try {
            f();
          } catch (e) {
            expect(e).toBeInstanceOf(RangeError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("SftpRelay: request ids and lengths that lie", () => {
  const KEYS = "/home/u/.ssh/authorized_keys";
  const forwardedTypes = (h: ReturnType<typeof harness>) => h.upstream.written.map((p) => p[4]);

  it("an id reused while its OPEN is outstanding cannot make a persistence file's handle pass for another path", async () => {
    const h = harness();
    h.send(Buffer.concat([INIT, pkt(T.OPEN, 5, KEYS, 1, 0), pkt(T.OPEN, 5, "/tmp/x", 1, 0)]));
    await h.settle();
    h.reply(Buffer.concat([pkt(T.HANDLE, 5, "h1"), pkt(T.HANDLE, 5, "h2")]));
    h.send(pkt(T.FSETSTAT, 6, "h1", 0)); // truncates or chmods authorized_keys, decided as if /tmp/x
    await h.settle();
    expect(forwardedTypes(h)).not.toContain(T.FSETSTAT);
    expect(h.decided.map((r) => r.text)).not.toContain("sftp setstat /tmp/x");
  });

  it("an FSETSTAT on a handle whose OPEN reply another request's reply consumed is not decided as a plain write", async () => {
    const h = harness();
    // STAT 7 fails upstream (STATUS 7), then OPEN 7's HANDLE arrives with no request left to label it
    h.send(Buffer.concat([INIT, pkt(T.STAT, 7, "/nope"), pkt(T.OPEN, 7, KEYS, 1, 0)]));
    await h.settle();
    h.reply(Buffer.concat([pkt(T.STATUS, 7, 2, "no such file", ""), pkt(T.HANDLE, 7, "h3")]));
    h.send(pkt(T.FSETSTAT, 8, "h3", 0));
    await h.settle();
    expect(forwardedTypes(h)).not.toContain(T.FSETSTAT);
  });

  it("a refused request leaves nothing behind: a later reply to its id is not recorded as its outcome", async () => {
    const h = harness();
    h.send(Buffer.concat([INIT, pkt(T.REMOVE, 9, "/tmp/forbidden")]));
    await h.settle();
    expect(h.events).toContainEqual(expect.objectContaining({ op: "remove", path: "/tmp/forbidden", status: "denied: test policy" }));
    // the client had its answer, so id 9 is free again
    h.send(pkt(T.STAT, 9, "/tmp/y"));
    await h.settle();
    expect(h.client.closed).toBe(0);
    expect(forwardedTypes(h)).toEqual([T.INIT, T.STAT]);
    h.reply(pkt(T.STATUS, 9, 2, "no such file", ""));
    await h.settle();
    expect(h.events.filter((e) => e.op === "remove")).toHaveLength(1);
  });

  it("a WRITE whose data length claims more than its packet holds is a protocol error, never recorded as written", async () => {
    const h = harness();
    h.send(Buffer.concat([INIT, pkt(T.OPEN, 1, "/tmp/w", 0x1a, 0)]));
    await h.settle();
    h.reply(pkt(T.HANDLE, 1, "hw"));
    h.send(Buffer.concat([pkt(T.WRITE, 2, "hw", u64, 0x7fffffff, Buffer.from("abc")), pkt(T.CLOSE, 3, "hw")]));
    await h.settle();
    expect(forwardedTypes(h)).toEqual([T.INIT, T.OPEN]);
    expect(h.client.closed).toBeGreaterThan(0);
    expect(h.events).toContainEqual(expect.objectContaining({ op: "error", status: "malformed SFTP packet from the client" }));
    expect(h.events.filter((e) => (e.bytes ?? 0) > 3)).toEqual([]);
  });

  it("a WRITE split across chunks is counted by the bytes it carries", async () => {
    const h = harness();
    h.send(Buffer.concat([INIT, pkt(T.OPEN, 1, "/tmp/w", 0x1a, 0)]));
    await h.settle();
    h.reply(pkt(T.HANDLE, 1, "hw"));
    const w = Buffer.concat([pkt(T.WRITE, 2, "hw", u64, 5, Buffer.from("hello")), pkt(T.CLOSE, 3, "hw")]);
    for (const piece of split(w, [3, 11, 20])) h.send(piece);
    await h.settle();
    expect(forwardedTypes(h)).toEqual([T.INIT, T.OPEN, T.WRITE, T.CLOSE]);
    expect(h.events).toContainEqual({ ch: 0, op: "close", path: "/tmp/w", bytes: 5, flags: "written" });
  });
});
