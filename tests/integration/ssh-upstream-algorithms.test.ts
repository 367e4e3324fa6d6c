import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, teardown, type GatehouseProcess } from "../support/gatehouse";
import { addConnection, ofKind, sessionsOf, sshUpstream } from "../support/api-fixture";
import { sshExec } from "../support/ssh-client";
import { keygen, startSshd, type Sshd } from "../support/sshd";

/** What sshd says it negotiated with Gatehouse (kex.c's debug lines). */
function negotiated(sshd: Sshd) {
  const log = sshd.log();
  const one = (re: RegExp) => re.exec(log)?.[1] ?? `(not in the sshd log: ${re.source})`;
  return {
    kex: one(/kex: algorithm: (\S+)/),
    hostKey: one(/kex: host key algorithm: (\S+)/),
    up: one(/kex: client->server cipher: (\S+ MAC: \S+)/),
    down: one(/kex: server->client cipher: (\S+ MAC: \S+)/),
  };
}

/**
 * The leg from Gatehouse to the upstream host (Gatehouse is the SSH client there) negotiates only
 * modern algorithms: proved from the real sshd's own DEBUG log, not from what Gatehouse says. A
 * host that offers nothing but legacy ones (SHA-1 key exchange, MACs or signatures, CBC) is
 * refused, and the user and the recording are told which kind of algorithm was missing.
 */
describe("algorithms on the upstream SSH leg", () => {
  let gh: GatehouseProcess;
  let admin: string;
  const hosts: Sshd[] = [];
  const sessions = sessionsOf(() => gh, () => admin, "ssh");

  beforeAll(async () => {
    gh = await startGatehouse({ demo: false });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
  }, 120_000);

  afterAll(() => teardown(gh, ...hosts));

  /** An sshd logging at DEBUG behind the connection `name`, which logs in with its password or its Ed25519 key. */
  async function host(name: string, opts: Parameters<typeof startSshd>[0] = {}, auth: "password" | "key" = "password"): Promise<Sshd> {
    const sshd = await startSshd({ logLevel: "DEBUG", ...opts });
    hosts.push(sshd);
    await addConnection(gh, admin, name, { ...sshUpstream(sshd), ...(auth === "key" ? { secret: sshd.privateKeyPem } : {}) });
    return sshd;
  }

  const run = (name: string, command = "echo ok") => sshExec({ port: gh.ports.ssh, user: name, password: admin }, command);

  it("a session negotiates curve25519, AES-GCM and an Ed25519 host key with a modern host", async () => {
    // (Gatehouse logs in with an Ed25519 key here, the RSA test below with an RSA one)
    const sshd = await host("modern", {}, "key");
    const r = await run("modern");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("ok\n");
    expect(negotiated(sshd)).toEqual({ kex: "curve25519-sha256", hostKey: "ssh-ed25519", up: "aes128-gcm@openssh.com MAC: <implicit>", down: "aes128-gcm@openssh.com MAC: <implicit>" });
  });

  it("picks SHA-2 kex and encrypt-then-MAC from a host that offers legacy ones first", async () => {
    const sshd = await host("mixed", {
      extraConfig: ["KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group14-sha256", "Ciphers aes128-cbc,aes128-ctr", "MACs hmac-sha1,hmac-sha1-etm@openssh.com,hmac-sha2-256-etm@openssh.com"],
    });
    const r = await run("mixed");
    expect(r.stdout).toBe("ok\n");
    const up = "aes128-ctr MAC: hmac-sha2-256-etm@openssh.com";
    expect(negotiated(sshd)).toEqual({ kex: "diffie-hellman-group14-sha256", hostKey: "ssh-ed25519", up, down: up });
  });

  it("verifies an RSA host key with rsa-sha2-512 and signs with an RSA user key using SHA-2", async () => {
    const sshd = await startSshd({ hostKeyType: "rsa", logLevel: "DEBUG2" });
    hosts.push(sshd);
    const key = path.join(sshd.dir, "client_rsa");
    keygen(key, "gh-test-client-rsa", "rsa");
    sshd.authorizeKey(fs.readFileSync(`${key}.pub`, "utf8"));
    await addConnection(gh, admin, "rsa", { ...sshUpstream(sshd), secret: fs.readFileSync(key, "utf8") });

    const r = await run("rsa", "whoami");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${sshd.user}\n`);
    expect(negotiated(sshd).hostKey).toBe("rsa-sha2-512");
    // the pin is the RSA key's fingerprint, as ssh-keygen prints it
    const conn = (await apiCall(gh.url, admin, "GET", "/connections")).body.connections.find((c: { name: string }) => c.name === "rsa");
    expect(conn.options.hostKey).toBe(sshd.hostKeyFingerprint);
    // auth2-pubkey.c (DEBUG2): "... user gh-ssh-test attempting public key rsa-sha2-256 ..."
    const attempts = [...sshd.log().matchAll(/attempting public key (\S+)/g)].map((m) => m[1]);
    expect(attempts).toEqual([expect.stringMatching(/^rsa-sha2-(256|512)$/)]);
    expect(sshd.log()).toMatch(/Accepted publickey for gh-ssh-test/);
  });

  // sshd's own "no matching ... found. Their offer: ..." lists what Gatehouse offered
  const legacy: { host: string; what: string; opts: Parameters<typeof startSshd>[0]; sshdSays: RegExp }[] = [
    { host: "SHA-1 key exchange", what: "key exchange method", opts: { extraConfig: ["KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group1-sha1,diffie-hellman-group-exchange-sha1"] }, sshdSays: /no matching key exchange method found\. Their offer: (\S+)/ },
    { host: "CBC ciphers", what: "cipher", opts: { extraConfig: ["Ciphers aes128-cbc,aes256-cbc,3des-cbc"] }, sshdSays: /no matching cipher found\. Their offer: (\S+)/ },
    { host: "SHA-1 and MD5 MACs", what: "MAC", opts: { extraConfig: ["Ciphers aes128-ctr", "MACs hmac-sha1,hmac-sha1-etm@openssh.com,hmac-md5"] }, sshdSays: /no matching MAC found\. Their offer: (\S+)/ },
    { host: "an ssh-rsa (SHA-1) host key", what: "host key algorithm", opts: { hostKeyType: "rsa", extraConfig: ["HostKeyAlgorithms ssh-rsa"] }, sshdSays: /no matching host key type found\. Their offer: (\S+)/ },
    // all at once, as an old host would: key exchange is the first to fail
    {
      host: "all of these",
      what: "key exchange method",
      opts: { extraConfig: ["KexAlgorithms diffie-hellman-group14-sha1", "Ciphers aes128-cbc", "MACs hmac-sha1"] },
      sshdSays: /no matching key exchange method found\. Their offer: (\S+)/,
    },
  ];

  it.each(legacy.map((l, i) => ({ ...l, name: `legacy-${i}` })))("refuses a host offering only $host, naming the missing $what, and records it", async ({ what, opts, sshdSays, name }) => {
    const sshd = await host(name, opts);
    const known = await sessions.ids();
    const r = await run(name, "true");
    const message = `the upstream host offers no ${what} that Gatehouse accepts`;
    expect(r.code).toBe(126);
    expect(r.stderr).toContain(`gatehouse: ${message}`);

    const id = await sessions.opened(known);
    const events = await sessions.recorded(id);
    expect(ofKind(events, "error").map((e) => e.message)).toEqual([expect.stringContaining(message)]);
    const { session } = (await apiCall(gh.url, admin, "GET", `/sessions/${id}`)).body;
    expect(session.status).toBe("failed");

    // what Gatehouse offered, as sshd saw it: nothing SHA-1, MD5 or CBC
    const offer = sshdSays.exec(sshd.log())?.[1];
    expect(offer, sshd.log()).toBeTruthy();
    expect(offer!.split(",").filter((a) => /sha1|md5|cbc|^ssh-rsa$/.test(a))).toEqual([]);
    expect(sshd.log()).not.toMatch(/Accepted|Failed password/);
  });
});

describe("upstream algorithms an operator allows", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;

  afterAll(() => teardown(gh, sshd));

  it("reach an old host that needs them; a name ssh2 does not know stops the start", async () => {
    await expect(startGatehouse({ demo: false, env: { GATEHOUSE_SSH_UPSTREAM_KEX: "curve25519-sha256,rot13" } })).rejects.toThrow(/GATEHOUSE_SSH_UPSTREAM_KEX: ssh2 does not support "rot13"/);

    [gh, sshd] = await Promise.all([
      startGatehouse({ demo: false, env: { GATEHOUSE_SSH_UPSTREAM_MACS: "hmac-sha2-256-etm@openssh.com,hmac-sha1", GATEHOUSE_SSH_UPSTREAM_HOST_KEY_ALGORITHMS: "ssh-ed25519,rsa-sha2-512,ssh-rsa" } }),
      startSshd({ hostKeyType: "rsa", logLevel: "DEBUG", extraConfig: ["HostKeyAlgorithms ssh-rsa", "Ciphers aes128-ctr", "MACs hmac-sha1"] }),
    ]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "old", sshUpstream(sshd));
    const r = await sshExec({ port: gh.ports.ssh, user: "old", password: admin }, "echo ok");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("ok\n");
    const up = "aes128-ctr MAC: hmac-sha1";
    expect(negotiated(sshd)).toEqual({ kex: "curve25519-sha256", hostKey: "ssh-rsa", up, down: up });
  }, 120_000);
});
