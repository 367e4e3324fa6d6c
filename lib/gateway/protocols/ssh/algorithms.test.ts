import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { DEFAULT_ALGORITHMS, explainAlgorithmError, listenerAlgorithms } from "./algorithms";

const { utils } = ssh2;
const hostKey = utils.generateKeyPairSync("ed25519").private;

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
    const a = listenerAlgorithms(env);
    expect(explainAlgorithmError(new Error("Unsupported algorithm: rot13"), a, env).message).toBe('GATEHOUSE_SSH_CIPHERS: ssh2 does not support "rot13"');
    expect(explainAlgorithmError(new Error("Unsupported algorithm: aes128-ctr"), listenerAlgorithms({}), {}).message).toBe("Unsupported algorithm: aes128-ctr");
  });
});
