import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Server, utils, type AuthContext } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, openPostgres, type DbHandle } from "@/db/client";
import { findSshKeyOwner, listSshKeys } from "@/db/queries/ssh-keys";
import { users } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { freePort } from "@/tests/support/ports";
import { startPostgres15, type Postgres15 } from "@/tests/support/postgres";
import { addSshKey } from "./add";
import { removeSshKey } from "./remove";
import { touchSshKey } from "./touch";

/**
 * The contract with the SSH gateway, proved with the real OpenSSH client: a key registered
 * through addSshKey is found by findSshKeyOwner from exactly what ssh2 hands a server during
 * publickey auth (`ctx.key.algo`, `ctx.key.data`), for every supported key type, and stops
 * being found once removed or once its owner is disabled. Runs on embedded PGlite and on a real
 * PostgreSQL 15, where the duplicate-key race is a real race.
 */
describe.each(["pglite", "postgres"] as const)("SSH keys on %s: service and gateway lookup", (backend) => {
  let h: DbHandle;
  let pg: Postgres15 | undefined;
  let dir: string;
  let server: Server;
  let port: number;
  const member = (u: { id: string; email: string }): Caller => ({ userId: u.id, email: u.email, role: "member", groups: [], via: "token" });

  beforeAll(async () => {
    process.env.GATEHOUSE_SECRET_KEY ??= Buffer.alloc(32, 5).toString("base64");
    if (backend === "postgres") {
      pg = await startPostgres15();
      h = await openPostgres(pg.url);
    } else h = await openPglite(null);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-sshkeys-svc-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host")]);
    port = await freePort();
    // A minimal stand-in for the gateway's auth step: lookup, then signature check, then touch.
    server = new Server({ hostKeys: [fs.readFileSync(path.join(dir, "host"))] }, (client) => {
      let owner: { keyId: string; userId: string } | null = null;
      client.on("authentication", (ctx: AuthContext) => {
        if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
        void (async () => {
          const found = await findSshKeyOwner(h.db, ctx.key.algo, ctx.key.data.toString("base64"));
          if (!found) return ctx.reject(["publickey"]);
          if (!ctx.signature) return ctx.accept(); // the client only asks whether the key would do
          const parsed = utils.parseKey(`${ctx.key.algo} ${ctx.key.data.toString("base64")}`);
          if (parsed instanceof Error || !parsed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo)) return ctx.reject(["publickey"]);
          owner = found;
          await touchSshKey(h.db, found.keyId);
          ctx.accept();
        })().catch(() => ctx.reject());
      });
      client.on("session", (accept) => {
        accept().once("exec", (acceptExec) => {
          const ch = acceptExec();
          ch.write(`${owner?.userId}\n`);
          ch.exit(0);
          ch.end();
        });
      });
      client.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await h?.close();
    await pg?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function newUser(email: string) {
    const [u] = await h.db.insert(users).values({ email, role: "member" }).returning({ id: users.id, email: users.email });
    return u;
  }

  function keygen(name: string, ...args: string[]) {
    const file = path.join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-N", "", "-C", name, "-f", file, ...args]);
    return { file, pub: fs.readFileSync(`${file}.pub`, "utf8") };
  }

  /** Real `ssh` with only this identity; resolves with exit code and stdout. */
  function sshWith(keyFile: string): Promise<{ code: number; stdout: string }> {
    return new Promise((resolve) => {
      execFile(
        "ssh",
        ["-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-F", "/dev/null", "-p", String(port), "demo@127.0.0.1", "whoami"],
        { timeout: 20_000 },
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
  }

  for (const [name, args] of [
    ["ed25519", ["-t", "ed25519"]],
    ["ecdsa", ["-t", "ecdsa", "-b", "384"]],
    ["rsa", ["-t", "rsa", "-b", "2048"]],
  ] as const) {
    it(`a registered ${name} key logs in as its owner with the real ssh client; last_used_at is set`, async () => {
      const u = await newUser(`${name}@example.test`);
      const k = keygen(`login-${name}`, ...args);
      expect((await sshWith(k.file)).code).not.toBe(0); // not registered yet
      const { key } = await addSshKey(h.db, member(u), { publicKey: k.pub });
      expect(key.name).toBe(`login-${name}`);
      expect((await listSshKeys(h.db, u.id))[0].lastUsedAt).toBeNull();
      const run = await sshWith(k.file);
      expect(run).toEqual({ code: 0, stdout: `${u.id}\n` });
      expect((await listSshKeys(h.db, u.id))[0].lastUsedAt).toBeInstanceOf(Date);
    });
  }

  it("a removed key, and a disabled owner's key, no longer log in", async () => {
    const u = await newUser("gone@example.test");
    const k1 = keygen("removed", "-t", "ed25519");
    const k2 = keygen("disabled", "-t", "ed25519");
    const { key } = await addSshKey(h.db, member(u), { publicKey: k1.pub });
    await addSshKey(h.db, member(u), { publicKey: k2.pub });
    expect((await sshWith(k1.file)).code).toBe(0);
    await removeSshKey(h.db, member(u), key.id);
    expect((await sshWith(k1.file)).code).not.toBe(0);
    expect((await sshWith(k2.file)).code).toBe(0);
    await h.query("update users set disabled = true where id = $1", [u.id]);
    expect((await sshWith(k2.file)).code).not.toBe(0);
    const blob = k2.pub.split(/\s+/)[1];
    expect(await findSshKeyOwner(h.db, "ssh-ed25519", blob)).toBeNull();
  });

  it("one key belongs to one user; concurrent adds of the same key leave exactly one row", async () => {
    const a = await newUser("race-a@example.test");
    const b = await newUser("race-b@example.test");
    const k = keygen("shared", "-t", "ed25519");
    const results = await Promise.allSettled([addSshKey(h.db, member(a), { publicKey: k.pub }), addSshKey(h.db, member(b), { publicKey: k.pub })]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: "CONFLICT" });
    const rows = await h.query<{ n: number }>("select count(*)::int as n from user_ssh_keys where public_key = $1", [k.pub.split(/\s+/)[1]]);
    expect(rows[0].n).toBe(1);
  });

  it("touch is coarse: a second use within a minute does not write again", async () => {
    const u = await newUser("touch@example.test");
    const { key } = await addSshKey(h.db, member(u), { publicKey: keygen("touch", "-t", "ed25519").pub });
    const t0 = new Date("2030-01-01T00:00:00Z");
    await touchSshKey(h.db, key.id, t0);
    await touchSshKey(h.db, key.id, new Date(t0.getTime() + 30_000));
    expect((await listSshKeys(h.db, u.id))[0].lastUsedAt?.toISOString()).toBe(t0.toISOString());
    await touchSshKey(h.db, key.id, new Date(t0.getTime() + 120_000));
    expect((await listSshKeys(h.db, u.id))[0].lastUsedAt?.toISOString()).toBe("2030-01-01T00:02:00.000Z");
  });
});
