import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { checkUpstreamAlgorithms, DEFAULT_ALGORITHMS, explainAlgorithmError, explainUpstreamHandshake, listenerAlgorithms, sha2OnlyKey, upstreamAlgorithms } from "./algorithms";

const { utils } = ssh2;
/** ssh2 now and then (about 1 in 300) generates an Ed25519 key it cannot parse (host-key.ts checks too): one it can. */
function readableKey(): string {
  for (;;) {
    const key = utils.generateKeyPairSync("ed25519").private;
    if (!(utils.parseKey(key) instanceof Error)) return key;
  }
}
const hostKey = readableKey();

describe("the SSH listener's algorithms", () => {
  it("default to a modern set: no SHA-1 or MD5, no CBC, no arcfour", () => {
    const all = Object.values(listenerAlgorithms({})).flat() as string[];
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((a) => /sha1|md5|cbc|arcfour|ripemd|-96$|^ssh-rsa$|ssh-dss|group1-/.test(a))).toEqual([]);
    expect(listenerAlgorithms({})).toEqual(DEFAULT_ALGORITHMS);
  });

  it("are all ones ssh2 knows (a name it does not know would stop the start)", () => {
    expect(() => new ssh2.Server({ hostKeys: [hostKey], algorithms: listenerAlgorithms({}) }).close()).not.toThrow();
  });

  it("an operator's list replaces that kind's default, and only that kind's", () => {
    const a = listenerAlgorithms({ GATEHOUSE_SSH_MACS: " hmac-sha2-512-etm@openssh.com , ", GATEHOUSE_SSH_KEX: "" });
    expect(a.hmac).toEqual(["hmac-sha2-512-etm@openssh.com"]);
    expect(a.kex).toEqual(DEFAULT_ALGORITHMS.kex);
    expect(a.cipher).toEqual(DEFAULT_ALGORITHMS.cipher);
  });

  it("an unknown name is blamed on the setting that named it, not on a default", () => {
    const env = { GATEHOUSE_SSH_CIPHERS: "rot13" };
    expect(explainAlgorithmError(new Error("Unsupported algorithm: rot13"), "listener", env).message).toBe('GATEHOUSE_SSH_CIPHERS: ssh2 does not support "rot13"');
    expect(explainAlgorithmError(new Error("Unsupported algorithm: aes128-ctr"), "listener", {}).message).toBe("Unsupported algorithm: aes128-ctr");
    // the same name in the other leg's setting is not this leg's fault
    expect(explainAlgorithmError(new Error("Unsupported algorithm: rot13"), "upstream", env).message).toBe("Unsupported algorithm: rot13");
  });
});

describe("the upstream SSH leg's algorithms", () => {
  it("are the listener's modern set, with their own settings (host key algorithms too)", () => {
    expect(upstreamAlgorithms({ GATEHOUSE_SSH_KEX: "curve25519-sha256" })).toEqual(DEFAULT_ALGORITHMS);
    const a = upstreamAlgorithms({ GATEHOUSE_SSH_UPSTREAM_MACS: "hmac-sha1", GATEHOUSE_SSH_UPSTREAM_HOST_KEY_ALGORITHMS: "rsa-sha2-512,ssh-rsa" });
    expect(a.hmac).toEqual(["hmac-sha1"]);
    expect(a.serverHostKey).toEqual(["rsa-sha2-512", "ssh-rsa"]);
    expect(a.kex).toEqual(DEFAULT_ALGORITHMS.kex);
  });

  it("a name ssh2 does not know stops the start, naming the setting", () => {
    expect(() => checkUpstreamAlgorithms({})).not.toThrow();
    expect(() => checkUpstreamAlgorithms({ GATEHOUSE_SSH_UPSTREAM_CIPHERS: "aes128-ctr,rot13" })).toThrow('GATEHOUSE_SSH_UPSTREAM_CIPHERS: ssh2 does not support "rot13"');
    expect(() => checkUpstreamAlgorithms({ GATEHOUSE_SSH_UPSTREAM_HOST_KEY_ALGORITHMS: "ssh-rot13" })).toThrow("GATEHOUSE_SSH_UPSTREAM_HOST_KEY_ALGORITHMS");
  });

  it("a failed key exchange names the kind of algorithm the host lacks, and the setting", () => {
    const says = (message: string) => explainUpstreamHandshake(new Error(message));
    expect(says("Handshake failed: no matching key exchange algorithm")).toMatch(/^the upstream host offers no key exchange method that Gatehouse accepts .*GATEHOUSE_SSH_UPSTREAM_KEX/);
    expect(says("Handshake failed: no matching host key format")).toMatch(/no host key algorithm .*GATEHOUSE_SSH_UPSTREAM_HOST_KEY_ALGORITHMS/);
    expect(says("Handshake failed: no matching S->C cipher")).toMatch(/no cipher .*GATEHOUSE_SSH_UPSTREAM_CIPHERS/);
    expect(says("Handshake failed: no matching C->S MAC")).toMatch(/no MAC .*GATEHOUSE_SSH_UPSTREAM_MACS/);
    expect(says("connect ECONNREFUSED 127.0.0.1:22")).toBeNull();
  });
});

describe("Gatehouse's RSA key for an upstream host", () => {
  const parse = (pem: string) => utils.parseKey(pem) as ssh2.ParsedKey;

  it("signs with SHA-2 and refuses SHA-1 (what ssh2 asks for when a host announces no rsa-sha2-*)", () => {
    const refused: string[] = [];
    const key = sha2OnlyKey(parse(utils.generateKeyPairSync("rsa", { bits: 2048 }).private), (why) => refused.push(why));
    const data = Buffer.from("session id and request");
    for (const hash of ["sha256", "sha512"]) expect(key.verify(data, key.sign(data, hash), hash)).toBe(true);
    expect(refused).toEqual([]);
    expect(key.sign(data, "sha1")).toBeInstanceOf(Error);
    expect(key.sign(data)).toBeInstanceOf(Error); // an RSA key's default hash is SHA-1
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatch(/no SHA-2 signature \(rsa-sha2-256\/512\)/);
  });

  it("leaves other keys alone", () => {
    const key = parse(hostKey);
    expect(sha2OnlyKey(key, () => {}).sign).toBe(key.sign);
  });
});
