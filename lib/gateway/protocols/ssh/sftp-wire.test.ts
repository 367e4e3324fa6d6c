import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Reader, swapSymlinkPaths, symlinkNeedsSwap, T } from "./sftp-wire";

/** An SFTP SYMLINK packet: length, type, id, then the two path strings as given. */
function symlinkPacket(id: number, first: Buffer, second: Buffer): Buffer {
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length, 0);
    return Buffer.concat([len, b]);
  };
  const body = Buffer.concat([Buffer.from([T.SYMLINK, 0, 0, 0, 0]), str(first), str(second)]);
  body.writeUInt32BE(id, 1);
  return str(body);
}

describe("SYMLINK argument order", () => {
  it("swaps only for an ssh2 client in front of OpenSSH or dropbear", () => {
    expect(symlinkNeedsSwap("SSH-2.0-ssh2js1.17.0", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")).toBe(true);
    expect(symlinkNeedsSwap("SSH-2.0-ssh2js1.17.0", "SSH-2.0-dropbear_2022.83")).toBe(true);
    expect(symlinkNeedsSwap("SSH-2.0-OpenSSH_9.2p1", "SSH-2.0-OpenSSH_9.2p1")).toBe(false); // OpenSSH's client already sends the host's order
    expect(symlinkNeedsSwap("SSH-2.0-ssh2js1.17.0", "SSH-2.0-Gatehouse")).toBe(false); // a draft-order host
    expect(symlinkNeedsSwap("SSH-2.0-PuTTY_Release_0.78", "SSH-2.0-OpenSSH_9.2p1")).toBe(false);
    expect(symlinkNeedsSwap("", "")).toBe(false);
  });

  it("puts the two paths the other way round and keeps the id and a well-formed length", () => {
    fc.assert(
      fc.property(fc.nat(), fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (id, a, b) => {
        const out = swapSymlinkPaths(symlinkPacket(id, Buffer.from(a), Buffer.from(b)));
        expect(out.readUInt32BE(0)).toBe(out.length - 4);
        expect(out[4]).toBe(T.SYMLINK);
        const r = new Reader(out, 5);
        expect(r.u32()).toBe(id);
        expect(Buffer.compare(r.str(), Buffer.from(b))).toBe(0);
        expect(Buffer.compare(r.str(), Buffer.from(a))).toBe(0);
        expect(out).toEqual(symlinkPacket(id, Buffer.from(b), Buffer.from(a)));
      }),
    );
  });

  it("refuses a packet whose strings run past its end, as any read does", () => {
    const whole = symlinkPacket(7, Buffer.from("/target"), Buffer.from("/link"));
    for (let cut = 9; cut < whole.length; cut++) expect(() => swapSymlinkPaths(whole.subarray(0, cut))).toThrow(RangeError);
    const lying = Buffer.from(whole);
    lying.writeUInt32BE(0xffffffff, 9); // the first string claims 4 GiB
    expect(() => swapSymlinkPaths(lying)).toThrow(RangeError);
  });
});
