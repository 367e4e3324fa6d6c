import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonOf, runCli } from "../support/cli";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";

/**
 * SSH public keys through a real Gatehouse process: REST, the `gatehouse ssh-keys` CLI as a
 * child process, and the object checks — another user can neither see nor delete a key, a
 * delegated agent token can add none, and every change lands in the audit log. Keys come from
 * the real ssh-keygen and fingerprints are compared with `ssh-keygen -lf`.
 */
describe("SSH keys", () => {
  let gh: GatehouseProcess;
  let dir: string;
  let admin: string;
  let alice: string;
  let bob: string;
  let aliceId: string;

  const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
  const call = (token: string | null, method: string, pathname: string, body?: unknown) => apiCall(gh.url, token, method, pathname, body);
  const cli = (token: string, args: string[], input?: string) => runCli(args, { input, env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: token, HOME: dir } });

  function keygen(name: string, ...args: string[]) {
    const file = path.join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-N", "", "-C", `${name}@test`, "-f", file, ...args]);
    const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${file}.pub`], { encoding: "utf8" }).split(/\s+/)[1];
    return { file, pubFile: `${file}.pub`, pub: fs.readFileSync(`${file}.pub`, "utf8"), priv: fs.readFileSync(file, "utf8"), fingerprint };
  }

  async function keysOf(token: string, user?: string) {
    const res = await call(token, "GET", `/ssh-keys${user ? `?user=${encodeURIComponent(user)}` : ""}`);
    expect(res.status).toBe(200);
    return res.body.keys as { id: string; name: string; algorithm: string; fingerprint: string; lastUsedAt: string | null }[];
  }

  beforeAll(async () => {
    gh = await startGatehouse({ demo: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-sshkeys-it-"));
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const name of ["alice", "bob"]) {
      const created = await call(admin, "POST", "/users", { email: `${name}@example.test`, password: `${name}-password-123`, role: "member" });
      expect(created.status).toBe(200);
      if (name === "alice") aliceId = created.body.user.id;
    }
    alice = await login(gh.url, "alice@example.test", "alice-password-123");
    bob = await login(gh.url, "bob@example.test", "bob-password-123");
  });
  afterAll(async () => {
    await teardown(gh);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("REST: add, list with the ssh-keygen fingerprint, refuse duplicates with CONFLICT", async () => {
    const k = keygen("alice-ed", "-t", "ed25519");
    const added = await call(alice, "POST", "/ssh-keys", { name: "laptop", publicKey: k.pub });
    expect(added.status).toBe(200);
    expect(added.body.key).toMatchObject({ name: "laptop", algorithm: "ssh-ed25519", fingerprint: k.fingerprint, userId: aliceId, lastUsedAt: null });
    expect(added.body.key.publicKey).toBeUndefined();
    expect((await keysOf(alice)).map((x) => x.fingerprint)).toEqual([k.fingerprint]);

    const again = await call(alice, "POST", "/ssh-keys", { publicKey: k.pub });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "CONFLICT" });
    expect(again.body.error.message).toMatch(/already registered to this account as "laptop"/);
    // The same key for someone else: refused, without naming the owner or the key's name.
    const stolen = await call(bob, "POST", "/ssh-keys", { publicKey: k.pub });
    expect(stolen.status).toBe(409);
    expect(stolen.body.error.message).toMatch(/registered to another user/);
    expect(stolen.body.error.message).not.toMatch(/alice|laptop/);
    expect(await keysOf(bob)).toEqual([]);
  });

  it("REST: refuses private keys, weak keys and garbage with INVALID and a clear message", async () => {
    const priv = keygen("alice-secret", "-t", "ed25519");
    const res = await call(alice, "POST", "/ssh-keys", { publicKey: priv.priv });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("INVALID");
    expect(res.body.error.message).toMatch(/private key/);
    expect(JSON.stringify(res.body)).not.toContain(priv.priv.split("\n")[1]);

    const weak = keygen("alice-rsa1024", "-t", "rsa", "-b", "1024");
    const cases: [unknown, RegExp][] = [
      [{ publicKey: weak.pub }, /at least 2048 bits/],
      [{ publicKey: "ssh-ed25519 not-base64!!" }, /not valid base64/],
      [{ publicKey: "hello" }, /not an OpenSSH public key/],
      [{ name: "x" }, /publicKey/],
      [{ publicKey: 42 }, /publicKey/],
    ];
    for (const [body, message] of cases) {
      const r = await call(alice, "POST", "/ssh-keys", body);
      expect({ body, status: r.status, code: r.body.error?.code }).toEqual({ body, status: 400, code: "INVALID" });
      expect(r.body.error.message).toMatch(message);
    }
    expect((await keysOf(alice)).some((x) => x.fingerprint === weak.fingerprint || x.fingerprint === priv.fingerprint)).toBe(false);
  });

  it("IDOR: another member can neither list, add to, nor delete someone else's keys", async () => {
    const k = keygen("alice-rsa", "-t", "rsa", "-b", "2048");
    const { body } = await call(alice, "POST", "/ssh-keys", { publicKey: k.pub });
    const id = body.key.id as string;

    expect((await keysOf(bob)).map((x) => x.id)).not.toContain(id);
    for (const user of ["alice@example.test", aliceId, "nobody@example.test"]) {
      // Same answer whether the user exists or not: ?user= cannot probe for accounts.
      const r = await call(bob, "GET", `/ssh-keys?user=${encodeURIComponent(user)}`);
      expect({ user, status: r.status }).toEqual({ user, status: 403 });
    }
    const planted = await call(bob, "POST", "/ssh-keys", { publicKey: keygen("bob-plant", "-t", "ed25519").pub, user: "alice@example.test" });
    expect(planted.status).toBe(403);

    const del = await call(bob, "DELETE", `/ssh-keys/${id}`);
    expect(del.status).toBe(404);
    // Not-yours looks exactly like does-not-exist and not-an-id.
    expect((await call(bob, "DELETE", "/ssh-keys/00000000-0000-4000-8000-000000000000")).body).toEqual(del.body);
    expect((await call(bob, "DELETE", "/ssh-keys/not-a-uuid")).body).toEqual(del.body);
    expect((await keysOf(alice)).map((x) => x.id)).toContain(id);
    expect((await call(null, "GET", "/ssh-keys")).status).toBe(401);
  });

  it("admins (users:write) may list, add and delete anyone's keys", async () => {
    const seen = await keysOf(admin, "alice@example.test");
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(await keysOf(admin, aliceId)).toEqual(seen);
    expect((await call(admin, "GET", "/ssh-keys?user=nobody@example.test")).status).toBe(404);

    const k = keygen("for-bob", "-t", "ecdsa");
    const added = await call(admin, "POST", "/ssh-keys", { publicKey: k.pub, user: "bob@example.test", name: "issued by admin" });
    expect(added.status).toBe(200);
    expect((await keysOf(bob)).map((x) => x.fingerprint)).toEqual([k.fingerprint]);
    expect((await call(admin, "DELETE", `/ssh-keys/${added.body.key.id}`)).status).toBe(200);
    expect(await keysOf(bob)).toEqual([]);
  });

  it("a delegated agent token cannot add, list or delete keys, even its user's", async () => {
    const personal = await call(alice, "POST", "/tokens", { name: "agent-root", ttlSeconds: 3600 });
    const res = await fetch(`${gh.url}/api/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: personal.body.token, subject_token_type: "urn:ietf:params:oauth:token-type:jwt", actor: "claude" }),
    });
    expect(res.status).toBe(200);
    const agent = (await res.json()).access_token as string;
    const before = await keysOf(alice);

    const k = keygen("agent-key", "-t", "ed25519");
    expect((await call(agent, "POST", "/ssh-keys", { publicKey: k.pub })).status).toBe(403);
    expect((await call(agent, "GET", "/ssh-keys")).status).toBe(403);
    expect((await call(agent, "DELETE", `/ssh-keys/${before[0].id}`)).status).toBe(403);
    const viaCli = await cli(agent, ["ssh-keys", "add", "--file", k.pubFile, "--json"]);
    expect(viaCli.code).toBe(1);
    expect(jsonOf(viaCli.stderr).error.code).toBe("FORBIDDEN");
    expect(await keysOf(alice)).toEqual(before);
    // The personal token the agent came from still may.
    expect((await call(personal.body.token, "POST", "/ssh-keys", { publicKey: k.pub })).status).toBe(200);
  });

  it("CLI: ssh-keys add --file, list, rm", async () => {
    const k = keygen("cli-ed", "-t", "ed25519");
    const added = await cli(bob, ["ssh-keys", "add", "--file", k.pubFile, "--name", "workstation", "--json"]);
    expect(added.code, added.stderr).toBe(0);
    const key = jsonOf(added.stdout).key;
    expect(key).toMatchObject({ name: "workstation", algorithm: "ssh-ed25519", fingerprint: k.fingerprint });

    const human = await cli(bob, ["ssh-keys", "list"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID\s+NAME\s+TYPE\s+FINGERPRINT\s+ADDED\s+LAST USED/);
    expect(human.stdout).toContain(k.fingerprint);
    expect(human.stdout).toMatch(/workstation\s+ssh-ed25519\s+SHA256:\S+\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\s+never/);

    // Default name = the key's comment; the key may also come from stdin.
    const k2 = keygen("cli-rsa", "-t", "rsa", "-b", "2048");
    const piped = await cli(bob, ["ssh-keys", "add", "--file", "-"], k2.pub);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toMatch(new RegExp(`added SSH key \\S+ \\(cli-rsa@test, ssh-rsa\\) ${k2.fingerprint.replace(/[+/]/g, "\\$&")}`));

    const dup = await cli(bob, ["ssh-keys", "add", "--file", k.pubFile]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already registered/);

    // Alice cannot remove Bob's key through the CLI either.
    const foreign = await cli(alice, ["ssh-keys", "rm", key.id, "--json"]);
    expect(foreign.code).toBe(1);
    expect(jsonOf(foreign.stderr).error.code).toBe("NOT_FOUND");

    const rm = await cli(bob, ["ssh-keys", "rm", key.id]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toContain(`removed SSH key ${key.id}`);
    const listed = jsonOf((await cli(bob, ["ssh-keys", "list", "--json"])).stdout);
    expect(listed.keys.map((x: { fingerprint: string }) => x.fingerprint)).toEqual([k2.fingerprint]);
  });

  it("CLI: a private key file is refused locally and never sent", async () => {
    const k = keygen("cli-secret", "-t", "ed25519");
    // An unreachable server proves the refusal happens before any request.
    const r = await runCli(["ssh-keys", "add", "--file", k.file, "--json"], { env: { GATEHOUSE_URL: "http://127.0.0.1:9", GATEHOUSE_TOKEN: "x", HOME: dir } });
    expect(r.code).toBe(1);
    const err = jsonOf(r.stderr).error;
    expect(err.code).toBe("INVALID");
    expect(err.message).toMatch(/private key; it was not sent/);
    expect(err.message).toContain(`did you mean ${k.file}.pub?`);
    expect(r.stderr + r.stdout).not.toContain(k.priv.split("\n")[1]);
    const usage = await runCli(["ssh-keys", "add", "--json"], { env: { GATEHOUSE_URL: "http://127.0.0.1:9", GATEHOUSE_TOKEN: "x", HOME: dir } });
    expect(usage.code).toBe(2);
    const missing = await cli(bob, ["ssh-keys", "add", "--file", path.join(dir, "nope.pub")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read --file .*ENOENT/);
  });

  it("every add and remove is in the audit log, with the fingerprint and never the key material", async () => {
    const res = await call(admin, "GET", "/audit?limit=1000");
    const rows = (res.body.entries as { action: string; actorEmail: string; subject: string; detail: Record<string, unknown> }[]).filter((e) => e.action.startsWith("ssh-key."));
    const adds = rows.filter((r) => r.action === "ssh-key.add");
    const removes = rows.filter((r) => r.action === "ssh-key.remove");
    expect(adds.length).toBeGreaterThanOrEqual(6);
    expect(removes.length).toBe(2);
    expect(adds.find((r) => r.detail.owner === "bob@example.test" && r.actorEmail === gh.adminEmail)).toBeTruthy();
    expect(removes.map((r) => r.actorEmail).sort()).toEqual([gh.adminEmail, "bob@example.test"].sort());
    for (const r of rows) {
      expect(r.subject).toMatch(/^ssh-key:[0-9a-f-]{36}$/);
      expect(String(r.detail.fingerprint)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(JSON.stringify(r.detail)).not.toMatch(/AAAA/);
    }
    const verify = await call(admin, "GET", "/audit/verify");
    expect(verify.body).toMatchObject({ ok: true });
  });
});
