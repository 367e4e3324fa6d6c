import type { Connection } from "ssh2";
import { describe, expect, it } from "vitest";
import { clientSoftware, remoteIdent } from "./login";

/** ssh2 keeps the peer's identification line as a Buffer on its protocol object (Protocol.js). */
const peer = (raw: unknown) => ({ _protocol: { _remoteIdentRaw: raw } });

describe("remoteIdent / clientSoftware", () => {
  it("reads the identification line ssh2 keeps as a Buffer (a string too), and nothing before the handshake", () => {
    expect(remoteIdent(peer(Buffer.from("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")))).toBe("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    expect(remoteIdent(peer("SSH-2.0-ssh2js1.17.0"))).toBe("SSH-2.0-ssh2js1.17.0");
    expect(remoteIdent(peer(undefined))).toBe("");
    expect(remoteIdent({})).toBe("");
  });

  it("names the client's software without the protocol prefix, at most 64 characters", () => {
    expect(clientSoftware(peer(Buffer.from("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")) as unknown as Connection)).toBe("OpenSSH_9.2p1 Debian-2+deb12u3");
    expect(clientSoftware(peer(Buffer.from(`SSH-2.0-${"x".repeat(100)}`)) as unknown as Connection)).toHaveLength(64);
  });
});
