import fs from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, exchangeToken, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { addApprover, addUser, pendingApproval, sessionsOf, termOutput, type Rec } from "../support/api-fixture";
import { sftpBatch, sshExec, startSsh, type SshTarget } from "../support/ssh-client";
import { CDPATH_USER, ensureCdpathUser } from "../support/ssh-cdpath-user";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * SSH hunt, round 4, with the real OpenSSH client and sshd: the listener's algorithms, a `cd`
 * that the login's CDPATH sends elsewhere, a symlink swapped while a write waits for its
 * approver, and a Gatehouse token glued into a run of token characters longer than the
 * scrubber's window.
 */
describe("SSH hunt 4", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const tokens = { admin: "", member: "", approver: "" };
  const tag = `gh-hunt4-${process.pid}`;
  let home = "";
  const sessions = sessionsOf(() => gh, () => tokens.admin, "ssh");

  const gw = (connection = "box"): SshTarget => ({ port: gh.ports.ssh, user: connection, password: tokens.member });
  const direct = (): SshTarget => ({ port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath });
  const directCdpath = (): SshTarget => ({ port: sshd.port, user: CDPATH_USER.name, password: CDPATH_USER.password });
  const exists = (p: string) => fs.existsSync(p);

  beforeAll(async () => {
    ensureCdpathUser();
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd({ extraConfig: [`AllowUsers ${CDPATH_USER.name}`] })]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, "ops@example.test");
    tokens.approver = await addApprover(gh, tokens.admin);
    for (const [name, username, secret, tags] of [
      ["box", sshd.user, sshd.password, ["staging"]],
      ["prodbox", sshd.user, sshd.password, ["prod"]],
      ["cdbox", CDPATH_USER.name, CDPATH_USER.password, ["staging"]],
    ] as const) {
      const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name, type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username, secret, tags });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    home = (await sshExec(direct(), "mkdir -p ~/.ssh && echo $HOME")).stdout.trim();
    expect(home).toMatch(/^\//);
  }, 120_000);

  afterAll(async () => {
    if (process.env.GH_DEBUG) console.log(gh?.output());
    if (sshd && home) {
      await sshExec(direct(), `rm -rf ~/${tag}-* ~/.ssh/${tag}-* /tmp/${tag}-*`);
      await sshExec(directCdpath(), `rm -rf ~/.bashrc ~/.config/autostart/${tag}-* ~/${tag}-*`);
    }
    await gh?.stop();
    await sshd?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  describe("the listener's algorithms, with no GATEHOUSE_SSH_* set", () => {
    // (-v: OpenSSH says why at log level INFO, which the tests' LogLevel=ERROR hides)
    it("refuses SHA-1 MACs, SHA-1 key exchange and CBC ciphers before authentication", async () => {
      const refusals: [string[], RegExp][] = [
        // a MAC is only negotiated with a non-AEAD cipher
        [["-c", "aes128-ctr", "-o", "MACs=hmac-sha1"], /no matching MAC found/],
        [["-c", "aes256-ctr", "-o", "MACs=hmac-sha1-etm@openssh.com,hmac-sha1-96,hmac-md5"], /no matching MAC found/],
        [["-o", "KexAlgorithms=diffie-hellman-group14-sha1"], /no matching key exchange method found/],
        [["-o", "KexAlgorithms=diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1"], /no matching key exchange method found/],
        [["-c", "aes128-cbc,aes256-cbc,3des-cbc"], /no matching cipher found/],
      ];
      const results = await Promise.all(refusals.map(([args]) => sshExec(gw(), "true", { extraArgs: ["-v", ...args] })));
      for (const [i, [args, why]] of refusals.entries()) {
        const r = results[i];
        expect(r.code, args.join(" ")).not.toBe(0);
        expect(r.stderr, args.join(" ")).toMatch(why);
        expect(r.stderr, args.join(" ")).not.toMatch(/Authenticated|Permission denied/);
      }
    });

    it("a plain ssh (and one that wants a non-AEAD cipher) still negotiates a modern set", async () => {
      const plain = await sshExec(gw(), "echo modern", { extraArgs: ["-v"] });
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).toBe("modern\n");
      expect(plain.stderr).toMatch(/kex: algorithm: (curve25519-sha256|sntrup761x25519)/);
      const ctr = await sshExec(gw(), "echo ctr", { extraArgs: ["-v", "-c", "aes128-ctr"] });
      expect(ctr.stdout, ctr.stderr).toBe("ctr\n");
      expect(ctr.stderr).toMatch(/cipher: aes128-ctr MAC: hmac-sha2-256-etm@openssh\.com/);
    });
  });

  describe("a cd that the login's CDPATH sends elsewhere", () => {
    beforeAll(async () => {
      // As some people's ~/.bashrc does; Debian's bash reads it for `ssh host command` too.
      const setup = await sshExec(directCdpath(), `echo 'export CDPATH="$HOME/.config"' > ~/.bashrc && mkdir -p ~/.config/autostart ~/${tag}-plain && echo ok`);
      expect(setup.stdout, setup.stderr).toBe("ok\n");
    });

    it("a relative cd without ./ is not taken to stay under the home directory: held, nothing is written", async () => {
      const entry = `${tag}-evil.desktop`;
      // Control: straight to sshd, `cd autostart` lands in ~/.config/autostart.
      const control = await sshExec(directCdpath(), `cd autostart >/dev/null && echo x > ${entry} && pwd && rm ${entry}`);
      expect(control.stdout.trim(), control.stderr).toMatch(/\/\.config\/autostart$/);

      const line = `cd autostart && echo '[Desktop Entry]' > ${entry}`;
      const run = startSsh(gw("cdbox"), line);
      let exited = false;
      void run.exited.then(() => (exited = true));
      const approval = await pendingApproval(gh, tokens.approver, line, { give: () => exited });
      expect(approval, `${line} ran without approval: ${run.stderr()}`).not.toBe(null);
      expect(["unknown", "admin"]).toContain(approval!.request.kind);
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "hunt4" })).status).toBe(200);
      expect(await run.exited).toBe(126);
      const after = await sshExec(directCdpath(), `test -e ~/.config/autostart/${entry} && echo yes || echo no`);
      expect(after.stdout.trim()).toBe("no");
    });

    it("a cd CDPATH does not apply to (./dir, an absolute path) still runs an ordinary write unasked", async () => {
      for (const line of [`cd ./${tag}-plain && echo x > a`, `cd ~/${tag}-plain && echo x > b`, `cd /tmp && cd && echo x > ${tag}-plain/c`]) {
        const r = await sshExec(gw("cdbox"), line);
        expect(r.code, `${line}: ${r.stderr}`).toBe(0);
        expect(r.stderr, line).not.toMatch(/held|denied/);
      }
      const written = await sshExec(directCdpath(), `ls ~/${tag}-plain`);
      expect(written.stdout.split("\n").filter(Boolean).sort()).toEqual(["a", "b", "c"]);
    });
  });

  // A write on a prod connection waits for an approver; the host judged its paths before the
  // wait (a plain directory: an ordinary write). Swapping the directory for a link into ~/.ssh
  // while it waits must not make the approved write land there.
  describe("a symlink swapped while a write waits for its approver", () => {
    const swapToSsh = (dir: string) => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.symlinkSync(`${home}/.ssh`, dir);
    };

    async function approve(match: (a: Rec) => boolean, done: () => boolean): Promise<Rec> {
      const approval = await pendingApproval(gh, tokens.approver, match, { give: done });
      expect(approval, "the prod write ran without approval").not.toBe(null);
      expect(approval!.request.kind).toBe("write");
      return approval!;
    }

    it("exec: the approved write is refused, nothing lands in ~/.ssh", async () => {
      const dir = `${home}/${tag}-race`;
      const probe = `${tag}-probe`;
      expect((await sshExec(direct(), `mkdir -p ${dir} && echo ok`)).stdout).toBe("ok\n");
      const line = `echo ssh-ed25519 AAAA planted >> ${tag}-race/${probe}`;
      const run = startSsh(gw("prodbox"), line);
      let exited = false;
      void run.exited.then(() => (exited = true));
      const approval = await approve((a) => a.request?.text === line, () => exited);
      swapToSsh(dir);
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval.id}/approve`, {})).status).toBe(200);
      expect(await run.exited, run.stderr()).toBe(126);
      expect(run.stderr()).toMatch(/changed on the host while it waited/);
      expect(exists(`${home}/.ssh/${probe}`)).toBe(false);
    });

    it("sftp: the approved put is refused, nothing lands in ~/.ssh", async () => {
      const dir = `${home}/${tag}-race2`;
      const probe = `${tag}-sftp-probe`;
      const local = `/tmp/${tag}-local.pub`;
      fs.writeFileSync(local, "ssh-ed25519 AAAAC3Nza planted\n");
      expect((await sshExec(direct(), `mkdir -p ${dir} && echo ok`)).stdout).toBe("ok\n");
      const known = await sessions.ids();
      let done = false;
      const put = sftpBatch(gw("prodbox"), [`put ${local} ${tag}-race2/${probe}`]).then((r) => ((done = true), r));
      const approval = await approve((a) => a.request?.text?.startsWith("sftp write") && a.request.text.endsWith(`${tag}-race2/${probe}`), () => done);
      swapToSsh(dir);
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval.id}/approve`, {})).status).toBe(200);
      const r = await put;
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Permission denied/); // (OpenSSH's sftp shows no status text)
      expect(exists(`${home}/.ssh/${probe}`)).toBe(false);
      const events = await sessions.recorded(await sessions.opened(known));
      const refused = events.filter((e) => e.kind === "sftp" && e.payload.op === "write" && String(e.payload.path).endsWith(probe));
      expect(refused.map((e) => e.payload.status)).toEqual([expect.stringMatching(/^denied: where its paths lead changed on the host while it waited \(now admin\)/)]);
    });

    it("MCP run_ssh_command: the approved write is refused, nothing lands in ~/.ssh", async () => {
      const dir = `${home}/${tag}-race3`;
      const probe = `${tag}-mcp-probe`;
      expect((await sshExec(direct(), `mkdir -p ${dir} && echo ok`)).stdout).toBe("ok\n");
      const agent = (await exchangeToken(gh.url, tokens.member, "hunt4-agent")).access_token;
      const client = new Client({ name: "ssh-hunt4", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${agent}` } } }));
      try {
        const line = `echo x >> ${tag}-race3/${probe}`;
        let done = false;
        const call = (client.callTool({ name: "run_ssh_command", arguments: { connection: "prodbox", command: line, wait_seconds: 30 } }, undefined, { timeout: 60_000 }) as Promise<CallToolResult>).then((r) => ((done = true), r));
        const approval = await approve((a) => a.request?.text === line, () => done);
        swapToSsh(dir);
        expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval.id}/approve`, {})).status).toBe(200);
        const result = await call;
        expect(result.isError).toBe(true);
        expect(JSON.stringify(result.content)).toMatch(/DENIED: where its paths lead changed on the host while it waited \(now admin\)/);
        expect(exists(`${home}/.ssh/${probe}`)).toBe(false);
      } finally {
        await client.close();
      }
    });
  });

  describe("a Gatehouse token glued into a run of token characters longer than the scrubber's window", () => {
    it("is not recorded, in any part, wherever in the run it sits; the client still gets its bytes", async () => {
      const [header, payload, signature] = tokens.member.split(".");
      // (the window is 8 KiB of token characters: the token across its end, and further on)
      for (const at of [8193 - 10, 8193 - 40, 3 * 8192 + 5]) {
        const file = `/tmp/${tag}-run-${at}`;
        const content = `eyJ${"A".repeat(at - 3)}${tokens.member}${"B".repeat(64)}\n`;
        fs.writeFileSync(file, content, { mode: 0o644 });
        const known = await sessions.ids();
        const r = await sshExec(gw(), `cat ${file}`);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe(content);
        const recorded = termOutput(await sessions.recorded(await sessions.opened(known)));
        expect(recorded.length, String(at)).toBeGreaterThanOrEqual(content.length);
        expect(recorded, String(at)).toContain("[REDACTED gatehouse credential");
        for (const part of [`${header}.`, payload, signature]) expect(recorded.includes(part), `${at}: ${part.slice(0, 12)}… recorded`).toBe(false);
      }
    });
  });
});
