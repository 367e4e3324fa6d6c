import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { addConnection, sshUpstream } from "../support/api-fixture";
import { sshExec, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * An operator pins the SSH listener's algorithms (GATEHOUSE_SSH_CIPHERS / _KEX / _MACS): the
 * real OpenSSH client gets exactly those, and a name ssh2 does not know stops the start with a
 * message naming the setting.
 */
describe("SSH listener algorithms pinned by the operator", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let target: SshTarget;

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([
      startGatehouse({ demo: false, env: { GATEHOUSE_SSH_CIPHERS: "aes256-gcm@openssh.com", GATEHOUSE_SSH_KEX: "curve25519-sha256", GATEHOUSE_SSH_MACS: "hmac-sha2-512-etm@openssh.com" } }),
      startSshd(),
    ]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "box", { ...sshUpstream(sshd), tags: ["staging"] });
    target = { port: gh.ports.ssh, user: "box", password: admin };
  }, 120_000);

  afterAll(async () => {
    await gh?.stop();
    await sshd?.stop();
  });

  it("offers only the pinned ones: a client that wants others is refused before it authenticates", async () => {
    const ok = await sshExec(target, "echo pinned", { extraArgs: ["-c", "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com", "-o", "KexAlgorithms=curve25519-sha256,sntrup761x25519-sha512@openssh.com"] });
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toBe("pinned\n");

    // (-v: OpenSSH says why at log level INFO, which the tests' LogLevel=ERROR hides)
    const cipher = await sshExec(target, "true", { extraArgs: ["-v", "-c", "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com"] });
    expect(cipher.code).not.toBe(0);
    expect(cipher.stderr).toMatch(/no matching cipher found\. Their offer: aes256-gcm@openssh\.com\r?\n/);
    const kex = await sshExec(target, "true", { extraArgs: ["-v", "-o", "KexAlgorithms=ecdh-sha2-nistp256"] });
    expect(kex.code).not.toBe(0);
    expect(kex.stderr).toMatch(/no matching key exchange method found\. Their offer: curve25519-sha256[,\r\n]/);
    expect(cipher.stderr + kex.stderr).not.toMatch(/Authenticated|Permission denied/);
  });

  it("refuses to start on an algorithm it does not know, naming the setting", async () => {
    await expect(startGatehouse({ demo: false, env: { GATEHOUSE_SSH_CIPHERS: "aes256-gcm@openssh.com,rot13" } })).rejects.toThrow(/GATEHOUSE_SSH_CIPHERS: ssh2 does not support "rot13"/);
  });
});
