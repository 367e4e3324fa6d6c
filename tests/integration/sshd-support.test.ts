/**
 * The SSH test support, proved against a real OpenSSH sshd directly (no Gatehouse): the gateway
 * tests build on these helpers, so a helper that silently passed would hide gateway bugs.
 * Needs root (sshd logs in the test account `gh-ssh-test`, created on demand).
 */
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scp, sftpBatch, sshCommand, sshExec, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { startTmux } from "../support/tmux";

let sshd: Sshd;
let pw: SshTarget;
let key: SshTarget;
let local: string;

beforeAll(async () => {
  sshd = await startSshd();
  pw = { port: sshd.port, user: sshd.user, password: sshd.password };
  key = { port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath };
  local = fs.mkdtempSync(path.join(os.tmpdir(), "gh-sshd-support-"));
});

afterAll(async () => {
  await sshd?.stop();
  if (local) fs.rmSync(local, { recursive: true, force: true });
});

const sha = (buf: Buffer) => crypto.createHash("sha256").update(buf).digest("hex");

describe("sshd + ssh client support", () => {
  it("runs exec over password auth and keeps exit status, stdout and stderr apart", async () => {
    const r = await sshExec(pw, "id -un; echo to-stderr >&2; exit 7");
    expect(r).toMatchObject({ code: 7, stdout: `${sshd.user}\n` });
    expect(r.stderr).toContain("to-stderr");
  });

  it("logs in with the generated key and refuses a wrong password and an unknown key", async () => {
    expect(await sshExec(key, "echo key-ok")).toMatchObject({ code: 0, stdout: "key-ok\n" });
    expect(sshd.privateKeyPem).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);

    const bad = await sshExec({ ...pw, password: "not-the-password" }, "echo should-not-run");
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).not.toContain("should-not-run");

    const stranger = path.join(local, "stranger");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
    const refused = await sshExec({ ...key, identityFile: stranger }, "echo should-not-run");
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Permission denied/);
    expect(sshd.log()).toMatch(/Failed password for gh-ssh-test/);
  });

  it("reports the host key fingerprint a client actually sees, and the key works for ssh2", async () => {
    const seen = await new Promise<string>((resolve, reject) => {
      const c = new Client();
      let fp = "";
      c.on("ready", () => {
        c.end();
        resolve(fp);
      });
      c.on("error", reject);
      c.connect({
        host: "127.0.0.1",
        port: sshd.port,
        username: sshd.user,
        privateKey: sshd.privateKeyPem,
        hostVerifier: (k: Buffer) => {
          fp = "SHA256:" + crypto.createHash("sha256").update(k).digest("base64").replace(/=+$/, "");
          return true;
        },
      });
    });
    expect(seen).toBe(sshd.hostKeyFingerprint);
  });

  it("moves files with sftp put/get/rm and with scp (sftp and legacy protocols)", async () => {
    const data = crypto.randomBytes(1 << 20);
    const up = path.join(local, "up.bin");
    fs.writeFileSync(up, data);
    const name = `gh-support-${crypto.randomBytes(4).toString("hex")}.bin`;
    const put = await sftpBatch(pw, [`put ${up} ${name}`, `get ${name} ${path.join(local, "down.bin")}`, `rm ${name}`]);
    expect(put.code, put.stderr).toBe(0);
    expect(sha(fs.readFileSync(path.join(local, "down.bin")))).toBe(sha(data));
    expect((await sshExec(pw, `test -e ${name}`)).code).toBe(1);
    // A failing batch command makes sftp exit non-zero: the helper can report failures.
    expect((await sftpBatch(pw, [`get no-such-file-${name} ${local}/x`])).code).not.toBe(0);

    for (const legacy of [false, true]) {
      const back = path.join(local, `scp-back-${legacy}.bin`);
      const sent = await scp(key, up, `:${name}`, { legacy });
      expect(sent.code, sent.stderr).toBe(0);
      const got = await scp(pw, `:${name}`, back, { legacy });
      expect(got.code, got.stderr).toBe(0);
      expect(sha(fs.readFileSync(back))).toBe(sha(data));
    }
    await sshExec(pw, `rm -f ${name}`);
  });

  it("drives an interactive login shell through tmux: typing, resize, exit status", async () => {
    const cmd = sshCommand(pw, [], ["-tt"]);
    const term = await startTmux(cmd.argv, { cols: 100, rows: 30, env: cmd.env });
    try {
      await term.sendLine("echo $((6*7))XY");
      await term.waitFor(/^42XY$/m);
      await term.sendLine("stty size");
      await term.waitFor(/^30 100$/m);
      await term.resize(90, 25);
      await term.sendLine("stty size");
      await term.waitFor(/^25 90$/m);
      await term.sendLine("exit 3");
      const deadline = Date.now() + 5000;
      while (!(await term.exited()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await expect.poll(() => term.exitStatus(), { timeout: 5000 }).toBe(3);
    } finally {
      await term.kill();
      cmd.cleanup();
    }
  });

  it("stop() ends the listener and every session it forked", async () => {
    const other = await startSshd();
    const marker = `gh-leak-${crypto.randomBytes(4).toString("hex")}`;
    const target = { port: other.port, user: other.user, identityFile: other.privateKeyPath };
    const { argv } = sshCommand(target, [`exec -a ${marker} sleep 300`]);
    const client = spawn(argv[0], argv.slice(1), { stdio: "ignore" });
    const running = () =>
      fs.readdirSync("/proc").some((p) => {
        try {
          return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith(marker);
        } catch {
          return false;
        }
      });
    try {
      const deadline = Date.now() + 5000;
      while (!running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(running()).toBe(true);
      await other.stop();
      expect(running()).toBe(false);
      const after = await sshExec(target, "true", { timeoutMs: 5000 });
      expect(after.code).toBe(255);
      expect(after.stderr).toMatch(/Connection refused/);
    } finally {
      client.kill();
      await other.stop();
    }
    expect(fs.existsSync(other.dir)).toBe(false);
  });
});
