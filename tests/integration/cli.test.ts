import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, jsonOf, runCli, type Run } from "../support/cli";
import { freePort } from "../support/ports";
import { type GatehouseProcess, login, ROOT, startGatehouse, teardown } from "../support/gatehouse";

/**
 * The `gatehouse` CLI as users run it: `node bin/gatehouse.mjs ...` as a child process against a
 * real server, with its own HOME. Every assertion checks an outcome on the server (the token
 * authenticates or not, the row is there or gone, the audit chain recorded it), not only what
 * was printed.
 */


describe("gatehouse CLI", () => {
  let gh: GatehouseProcess;
  let adminToken: string;
  let home: string;
  /** Runs as the admin (GATEHOUSE_TOKEN), against the test server. */
  let admin: (args: string[], opts?: { input?: string; env?: Record<string, string | undefined> }) => Promise<Run>;
  /** Runs with the server URL and the temp HOME (and whatever `login` stored there). */
  let plain: (args: string[], opts?: { input?: string; env?: Record<string, string | undefined> }) => Promise<Run>;

  beforeAll(async () => {
    gh = await startGatehouse({ demo: false });
    adminToken = await login(gh.url, gh.adminEmail, gh.adminPassword);
    home = fs.mkdtempSync(path.join(os.tmpdir(), "gh-cli-home-"));
    plain = (args, opts = {}) => runCli(args, { ...opts, env: { HOME: home, GATEHOUSE_URL: gh.url, ...opts.env } });
    admin = (args, opts = {}) => plain(args, { ...opts, env: { GATEHOUSE_TOKEN: adminToken, ...opts.env } });
  });

  afterAll(async () => {
    await teardown(gh);
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  describe("help and usage", () => {
    it("prints usage for the tool, a group and a command", async () => {
      const top = await plain(["help"]);
      expect(top.code).toBe(0);
      for (const group of ["login", "whoami", "connections", "tokens", "users", "audit"]) expect(top.stdout).toContain(group);
      const group = await plain(["tokens", "--help"]);
      expect(group.code).toBe(0);
      expect(group.stdout).toMatch(/gatehouse tokens revoke ID/);
      const cmd = await plain(["connections", "add", "--help"]);
      expect(cmd.code).toBe(0);
      expect(cmd.stdout).toMatch(/--upstream URL/);
      expect(cmd.stdout).toMatch(/--key-file F/);
      expect((await plain(["help", "users", "add"])).stdout).toMatch(/--password-stdin/);
    });

    it("exits 2 on usage errors, with a JSON error on stderr under --json, before touching the network", async () => {
      const cases = [
        ["connections", "add", "db1", "--upstream", "postgres://h:5432/d", "--json"], // no --type
        ["connections", "add", "db1", "--type", "oracle", "--upstream", "x", "--json"],
        ["connections", "list", "--bogus", "--json"],
        ["tokens", "create", "--ttl", "soon", "--json"],
        ["tokens", "revoke", "--json"], // neither ID nor --token
        ["users", "set", "a@b.test", "--json"], // nothing to change
        ["frobnicate", "--json"],
        ["connections", "--json"],
      ];
      for (const args of cases) {
        // An unreachable URL proves these fail before any request is made.
        const r = await runCli(args, { env: { HOME: home, GATEHOUSE_URL: "http://127.0.0.1:9", GATEHOUSE_TOKEN: "x" } });
        expect(r.code, args.join(" ")).toBe(2);
        expect(r.stdout, args.join(" ")).toBe("");
        expect(jsonOf(r.stderr).error.code, args.join(" ")).toBe("USAGE");
      }
      const human = await plain(["tokens", "create", "--ttl", "soon"]);
      expect(human.code).toBe(2);
      expect(human.stderr).toMatch(/not a duration/);
      expect(human.stderr).toMatch(/gatehouse tokens create --help/);
      expect((await plain([])).code).toBe(2);
    });
  });

  describe("login and whoami", () => {
    it("refuses a wrong password with a JSON error and stores nothing", async () => {
      const r = await plain(["login", "--email", gh.adminEmail, "--password", "not-the-password", "--json"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(jsonOf(r.stderr)).toMatchObject({ error: { code: "UNAUTHENTICATED", message: expect.stringMatching(/wrong email or password/) } });
      expect(fs.existsSync(path.join(home, ".config/gatehouse/credentials.json"))).toBe(false);
    });

    it("stores the token (0600, keyed by URL) and later commands use it", async () => {
      const r = await plain(["login", "--email", gh.adminEmail, "--password", "-", "--ttl", "2h", "--json"], { input: `${gh.adminPassword}\n` });
      expect(r.code, r.stderr).toBe(0);
      const { token, expiresAt } = jsonOf(r.stdout);
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      const ttl = (Date.parse(expiresAt) - Date.now()) / 1000;
      expect(ttl).toBeGreaterThan(7000);
      expect(ttl).toBeLessThanOrEqual(7200);

      const file = path.join(home, ".config/gatehouse/credentials.json");
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(jsonOf(fs.readFileSync(file, "utf8")).servers[gh.url].token).toBe(token);

      const me = await plain(["whoami", "--json"]);
      expect(me.code, me.stderr).toBe(0);
      expect(jsonOf(me.stdout)).toMatchObject({ email: gh.adminEmail, role: "admin", via: "token" });
      // The last login's URL is remembered: no GATEHOUSE_URL needed.
      const noUrl = await runCli(["whoami"], { env: { HOME: home } });
      expect(noUrl.code, noUrl.stderr).toBe(0);
      expect(noUrl.stdout).toMatch(new RegExp(`email:\\s+${gh.adminEmail}`));
      // GATEHOUSE_TOKEN wins over the stored token.
      const env = await plain(["whoami", "--json"], { env: { GATEHOUSE_TOKEN: "not.a.token" } });
      expect(env.code).toBe(1);
      expect(jsonOf(env.stderr).error.code).toBe("UNAUTHENTICATED");
    });

    it("takes the password from GATEHOUSE_PASSWORD and prints only the token without --json", async () => {
      const r = await runCli(["login", "--email", gh.adminEmail], { env: { HOME: fs.mkdtempSync(path.join(os.tmpdir(), "gh-cli-home2-")), GATEHOUSE_URL: gh.url, GATEHOUSE_PASSWORD: gh.adminPassword } });
      expect(r.code, r.stderr).toBe(0);
      const token = r.stdout.trim();
      expect(token.split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/token saved to/);
      const me = await plain(["whoami", "--json"], { env: { GATEHOUSE_TOKEN: token } });
      expect(jsonOf(me.stdout).email).toBe(gh.adminEmail);
    });

    it("names the URL when the server cannot be reached", async () => {
      const port = await freePort();
      const r = await plain(["whoami", "--json"], { env: { GATEHOUSE_URL: `http://127.0.0.1:${port}`, GATEHOUSE_TOKEN: "x" } });
      expect(r.code).toBe(1);
      expect(jsonOf(r.stderr).error).toMatchObject({ code: "UNREACHABLE", message: expect.stringContaining(`cannot reach Gatehouse at http://127.0.0.1:${port}`) });
    });

    it("works through a node_modules/.bin symlink from any working directory", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-cli-cwd-"));
      try {
        fs.mkdirSync(path.join(dir, "node_modules/.bin"), { recursive: true });
        fs.symlinkSync(BIN, path.join(dir, "node_modules/.bin/gatehouse"));
        // A foreign tsconfig in the cwd must not change how the CLI is compiled.
        fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "commonjs", paths: { "@/*": ["./nowhere/*"] } } }));
        const r = await runCli(["whoami", "--json"], { cwd: dir, bin: [path.join(dir, "node_modules/.bin/gatehouse")], env: { HOME: home, GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: adminToken } });
        expect(r.code, r.stderr).toBe(0);
        expect(jsonOf(r.stdout).email).toBe(gh.adminEmail);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("connections", () => {
    const SECRET = "pw-7f3a9c-never-print-me";
    const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-b1c2d3-never-print-me\n-----END OPENSSH PRIVATE KEY-----\n";

    it("add / list / show / rm round-trip; the secret is stored but never printed", async () => {
      const added = await admin(["connections", "add", "orders-db", "--type", "postgres", "--upstream", "postgres://10.0.0.5:5432/orders", "--user", "app", "--tags", "prod, pci", "--description", "orders", "--password-stdin", "--json"], { input: `${SECRET}\n` });
      expect(added.code, added.stderr).toBe(0);
      expect(jsonOf(added.stdout).connection).toMatchObject({ name: "orders-db", type: "postgres", username: "app", tags: ["prod", "pci"], hasSecret: true });

      const keyFile = path.join(home, "id_ed25519");
      fs.writeFileSync(keyFile, KEY, { mode: 0o600 });
      const ssh = await admin(["connections", "add", "bastion", "--type", "ssh", "--upstream", "ssh://10.0.0.9:22", "--user", "ops", "--key-file", keyFile]);
      expect(ssh.code, ssh.stderr).toBe(0);
      expect(ssh.stdout).toMatch(/added connection bastion/);

      const list = await admin(["connections", "list", "--json"]);
      expect(list.code).toBe(0);
      const byName = Object.fromEntries(jsonOf(list.stdout).connections.map((c: { name: string }) => [c.name, c]));
      expect(byName["orders-db"]).toMatchObject({ hasSecret: true, upstream: "postgres://10.0.0.5:5432/orders" });
      expect(byName.bastion).toMatchObject({ type: "ssh", hasSecret: true, username: "ops" });

      const table = await admin(["connections", "list"]);
      expect(table.stdout).toMatch(/^NAME\s+TYPE\s+UPSTREAM/m);
      expect(table.stdout).toMatch(/orders-db\s+postgres\s+postgres:\/\/10\.0\.0\.5:5432\/orders\s+app\s+prod,pci\s+set/);

      const show = await admin(["connections", "show", "orders-db"]);
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(/secret:\s+set \(write-only\)/);

      for (const out of [added, ssh, list, table, show]) {
        expect(out.stdout + out.stderr).not.toContain(SECRET);
        expect(out.stdout + out.stderr).not.toContain("key-b1c2d3");
      }

      const dup = await admin(["connections", "add", "orders-db", "--type", "postgres", "--upstream", "postgres://x:1/y", "--json"]);
      expect(dup.code).toBe(1);
      expect(jsonOf(dup.stderr).error.code).toBe("CONFLICT");

      const rm = await admin(["connections", "rm", "bastion", "--json"]);
      expect(rm.code, rm.stderr).toBe(0);
      expect(jsonOf(rm.stdout)).toMatchObject({ name: "bastion", id: byName.bastion.id });
      const after = jsonOf((await admin(["connections", "list", "--json"])).stdout).connections.map((c: { name: string }) => c.name);
      expect(after).toContain("orders-db");
      expect(after).not.toContain("bastion");
      const gone = await admin(["connections", "show", "bastion", "--json"]);
      expect(gone.code).toBe(1);
      expect(jsonOf(gone.stderr).error.code).toBe("NOT_FOUND");
    });

    it("reports a missing key file without sending anything", async () => {
      const r = await admin(["connections", "add", "x1", "--type", "ssh", "--upstream", "ssh://h:22", "--key-file", "/nonexistent/key", "--json"]);
      expect(r.code).toBe(1);
      expect(jsonOf(r.stderr).error.message).toMatch(/cannot read --key-file/);
      expect(jsonOf((await admin(["connections", "list", "--json"])).stdout).connections.map((c: { name: string }) => c.name)).not.toContain("x1");
    });
  });

  describe("tokens", () => {
    it("create → the token authenticates; revoke by id → it no longer does", async () => {
      const created = await admin(["tokens", "create", "--name", "ci", "--ttl", "1h", "--json"]);
      expect(created.code, created.stderr).toBe(0);
      const t = jsonOf(created.stdout);
      expect(t).toMatchObject({ name: "ci", id: expect.any(String), token: expect.any(String) });
      expect(Math.abs(Date.parse(t.expiresAt) - Date.now() - 3600_000)).toBeLessThan(60_000);

      const me = await plain(["whoami", "--json"], { env: { GATEHOUSE_TOKEN: t.token } });
      expect(me.code, me.stderr).toBe(0);
      expect(jsonOf(me.stdout).email).toBe(gh.adminEmail);

      const listed = jsonOf((await admin(["tokens", "list", "--json"])).stdout).tokens;
      expect(listed.find((x: { id: string }) => x.id === t.id)).toMatchObject({ name: "ci", kind: "personal" });
      expect(JSON.stringify(listed)).not.toContain(t.token);

      const revoked = await admin(["tokens", "revoke", t.id, "--json"]);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(jsonOf(revoked.stdout).revoked).toContain(t.id);

      const after = await plain(["whoami", "--json"], { env: { GATEHOUSE_TOKEN: t.token } });
      expect(after.code).toBe(1);
      expect(jsonOf(after.stderr).error.code).toBe("UNAUTHENTICATED");
      // Gone from the default list, present with --revoked.
      expect(jsonOf((await admin(["tokens", "list", "--json"])).stdout).tokens.map((x: { id: string }) => x.id)).not.toContain(t.id);
      const withRevoked = jsonOf((await admin(["tokens", "list", "--revoked", "--json"])).stdout).tokens;
      expect(withRevoked.find((x: { id: string }) => x.id === t.id)?.revokedAt).toBeTruthy();
    });

    it("scopes a token and revokes it by value read from stdin", async () => {
      const created = await admin(["tokens", "create", "--name", "agent", "--ttl", "90m", "--scope", "orders-db", "--actions", "connect,read", "--json"]);
      expect(created.code, created.stderr).toBe(0);
      const t = jsonOf(created.stdout);
      const row = jsonOf((await admin(["tokens", "list", "--json"])).stdout).tokens.find((x: { id: string }) => x.id === t.id);
      expect(row).toMatchObject({ scopeConnections: ["orders-db"], scopeActions: ["connect", "read"] });
      const table = await admin(["tokens", "list"]);
      expect(table.stdout).toMatch(new RegExp(`${t.id}\\s+agent\\s+personal\\s+-\\s+orders-db\\s+connect,read`));

      const bare = await admin(["tokens", "create", "--name", "bare"]);
      expect(bare.code).toBe(0);
      expect(bare.stdout.trim().split("\n")).toHaveLength(1); // only the token on stdout
      expect(bare.stderr).toMatch(/shown only this once/);

      for (const token of [t.token, bare.stdout.trim()]) {
        expect((await plain(["whoami"], { env: { GATEHOUSE_TOKEN: token } })).code).toBe(0);
        const r = await admin(["tokens", "revoke", "--token", "-"], { input: token + "\n" });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^revoked token /);
        expect((await plain(["whoami"], { env: { GATEHOUSE_TOKEN: token } })).code).toBe(1);
      }
    });
  });

  describe("users", () => {
    const BOB = "bob@example.test";

    it("add prints the generated password; disable locks the user out and kills the token; enable restores", async () => {
      const added = await admin(["users", "add", BOB, "--role", "member", "--groups", "dev,ops", "--name", "Bob", "--json"]);
      expect(added.code, added.stderr).toBe(0);
      const { user } = jsonOf(added.stdout);
      expect(user).toMatchObject({ email: BOB, role: "member", groups: ["dev", "ops"] });
      expect(user.initialPassword).toEqual(expect.any(String));

      const listed = jsonOf((await admin(["users", "list", "--json"])).stdout).users.find((u: { email: string }) => u.email === BOB);
      expect(listed).toMatchObject({ role: "member", groups: ["dev", "ops"], disabled: false, name: "Bob" });
      expect((await admin(["users", "list"])).stdout).toMatch(/bob@example\.test\s+Bob\s+member\s+dev,ops\s+active/);

      const bobHome = fs.mkdtempSync(path.join(os.tmpdir(), "gh-cli-bob-"));
      const asBob = (args: string[], input?: string) => runCli(args, { input, env: { HOME: bobHome, GATEHOUSE_URL: gh.url } });
      const bobLogin = await asBob(["login", "--email", BOB, "--password", "-", "--json"], user.initialPassword);
      expect(bobLogin.code, bobLogin.stderr).toBe(0);
      expect(jsonOf((await asBob(["whoami", "--json"])).stdout)).toMatchObject({ email: BOB, role: "member", groups: ["dev", "ops"] });
      // A member may not manage users.
      const forbidden = await asBob(["users", "list", "--json"]);
      expect(forbidden.code).toBe(1);
      expect(jsonOf(forbidden.stderr).error.code).toBe("FORBIDDEN");

      const disabled = await admin(["users", "disable", BOB, "--json"]);
      expect(disabled.code, disabled.stderr).toBe(0);
      expect(jsonOf(disabled.stdout).revokedTokens).toBeGreaterThanOrEqual(1);
      expect((await asBob(["whoami", "--json"])).code).toBe(1); // the stored login token was revoked
      const relogin = await asBob(["login", "--email", BOB, "--password", "-", "--json"], user.initialPassword);
      expect(relogin.code).toBe(1);
      expect(jsonOf(relogin.stderr).error.code).toBe("UNAUTHENTICATED");
      expect(jsonOf((await admin(["users", "list", "--json"])).stdout).users.find((u: { email: string }) => u.email === BOB).disabled).toBe(true);

      expect((await admin(["users", "enable", BOB])).code).toBe(0);
      expect((await asBob(["login", "--email", BOB, "--password", "-"], user.initialPassword)).code).toBe(0);

      const set = await admin(["users", "set", BOB, "--role", "auditor", "--groups", "ops"]);
      expect(set.code, set.stderr).toBe(0);
      expect(jsonOf((await admin(["users", "list", "--json"])).stdout).users.find((u: { email: string }) => u.email === BOB)).toMatchObject({ role: "auditor", groups: ["ops"] });
      fs.rmSync(bobHome, { recursive: true, force: true });
    });

    it("takes a chosen password from stdin and prints none", async () => {
      const r = await admin(["users", "add", "carol@example.test", "--password-stdin"], { input: "carol-chosen-pw-123\n" });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/initial password/);
      expect(await login(gh.url, "carol@example.test", "carol-chosen-pw-123")).toEqual(expect.any(String));
    });
  });

  describe("audit", () => {
    it("verify passes and export streams every row as NDJSON, including what the CLI did", async () => {
      const human = await admin(["audit", "verify"]);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/audit chain intact: \d+ rows, head [0-9a-f]+/);
      const v = jsonOf((await admin(["audit", "verify", "--json"])).stdout);
      expect(v).toMatchObject({ ok: true, rows: expect.any(Number), head: expect.any(String) });

      const out = path.join(home, "audit.ndjson");
      const exported = await admin(["audit", "export", "--out", out, "--json"]);
      expect(exported.code, exported.stderr).toBe(0);
      const lines = fs.readFileSync(out, "utf8").trimEnd().split("\n").map(jsonOf);
      expect(jsonOf(exported.stdout)).toMatchObject({ out, rows: lines.length });
      expect(lines.length).toBeGreaterThanOrEqual(v.rows);
      expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
      expect(lines[v.rows - 1].hash).toBe(v.head);
      const actions = new Set(lines.map((l) => l.action));
      for (const a of ["auth.login", "auth.login_failed", "connection.create", "connection.delete", "token.create", "token.revoke", "user.create", "user.disable"]) expect(actions, a).toContain(a);

      const piped = await admin(["audit", "export"]);
      expect(piped.code).toBe(0);
      expect(piped.stdout.trimEnd().split("\n").map(jsonOf).length).toBeGreaterThanOrEqual(lines.length);
    });

    it("exits 1 and names the row when the chain is broken", async () => {
      // The real server's chain cannot be broken from outside; a stub answering like it can.
      const stub = http.createServer((req, res) => {
        res.setHeader("content-type", "application/json");
        if (req.url === "/api/v1/audit/verify") return res.end(JSON.stringify({ ok: false, rows: 7, seq: 5, problem: "row content does not match its hash (the row was edited)" }));
        res.statusCode = 404;
        res.end("{}");
      });
      await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
      const url = `http://127.0.0.1:${(stub.address() as { port: number }).port}`;
      try {
        const human = await runCli(["audit", "verify"], { env: { HOME: home, GATEHOUSE_URL: url, GATEHOUSE_TOKEN: "x" } });
        expect(human.code).toBe(1);
        expect(human.stdout).toMatch(/BROKEN at row 5: row content does not match its hash/);
        const json = await runCli(["audit", "verify", "--json"], { env: { HOME: home, GATEHOUSE_URL: url, GATEHOUSE_TOKEN: "x" } });
        expect(json.code).toBe(1);
        expect(jsonOf(json.stdout)).toMatchObject({ ok: false, seq: 5 });
        expect(jsonOf(json.stderr).error).toMatchObject({ code: "AUDIT_CHAIN_BROKEN", message: expect.stringContaining("row 5") });
      } finally {
        await new Promise((r) => stub.close(r));
      }
    });
  });
});
