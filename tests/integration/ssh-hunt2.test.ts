import fs from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, exchangeToken, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { sftpBatch, sshExec, startSsh, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { ensureHomeUser, HOME_USER } from "../support/ssh-home-user";
import { addApprover, addUser, pendingApproval as waitForApproval, type Rec } from "../support/api-fixture";

/**
 * Writes whose text looks ordinary while they land where the host runs code later: through a
 * symlink already on the host (`~/notes -> ~/.ssh`), into a home directory outside /home, after a
 * `cd`, or with names a git checkout brings. Each is first shown to do its harm against sshd
 * directly (or its setup to be real), then through Gatehouse it must be held as admin, and once
 * the approver denies it nothing is written. Ordinary writes beside them still run unasked.
 */
describe("SSH writes judged where they land on the host", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const tokens = { admin: "", member: "", approver: "" };
  const tag = `gh-hunt2-${process.pid}`;
  let home = "";

  const gw = (connection = "box"): SshTarget => ({ port: gh.ports.ssh, user: connection, password: tokens.member });
  const direct = (): SshTarget => ({ port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath });
  const direct2 = (): SshTarget => ({ port: sshd.port, user: HOME_USER.name, password: HOME_USER.password });
  const exists = async (t: SshTarget, p: string) => (await sshExec(t, `test -e ${p} && echo yes || echo no`)).stdout.trim();

  /** Runs `line` through Gatehouse; a hold is denied. */
  async function throughGateway(line: string, connection = "box"): Promise<{ outcome: "held" | "ran"; code: number | null; stderr: string; approval: Rec | null }> {
    const run = startSsh(gw(connection), line);
    let exited = false;
    void run.exited.then(() => (exited = true));
    const approval = await waitForApproval(gh, tokens.approver, line, { give: () => exited });
    if (approval) expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval.id}/deny`, { reason: "hunt2" })).status).toBe(200);
    const code = await run.exited;
    return { outcome: approval ? "held" : "ran", code, stderr: run.stderr(), approval };
  }

  async function expectHeldAdmin(line: string, connection = "box") {
    const r = await throughGateway(line, connection);
    expect(r.outcome, `${line} ran without approval (exit ${r.code}): ${r.stderr}`).toBe("held");
    expect(r.approval!.request.kind, line).toBe("admin");
    expect(r.code).toBe(126);
  }

  async function expectRuns(line: string, connection = "box") {
    const r = await sshExec(gw(connection), line);
    expect(r.code, `${line}: ${r.stderr}`).toBe(0);
    expect(r.stderr, line).not.toMatch(/held|denied/);
    return r;
  }

  beforeAll(async () => {
    ensureHomeUser();
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd({ extraConfig: [`AllowUsers ${HOME_USER.name}`] })]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, "ops@example.test");
    tokens.approver = await addApprover(gh, tokens.admin);
    for (const [name, username, secret] of [["box", sshd.user, sshd.password], ["box2", HOME_USER.name, HOME_USER.password]]) {
      const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name, type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username, secret, tags: ["staging"] });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    home = (await sshExec(direct(), "echo $HOME")).stdout.trim();
    // ~/TAG-notes is a symlink to ~/.ssh, as a user (or an earlier approved command) left it.
    const setup = await sshExec(direct(), `mkdir -p ~/.ssh ~/${tag}-plain && ln -sfn ~/.ssh ~/${tag}-notes && readlink -f ~/${tag}-notes`);
    expect(setup.stdout.trim(), setup.stderr).toBe(`${home}/.ssh`);
  }, 120_000);

  afterAll(async () => {
    if (process.env.GH_DEBUG) console.log(gh?.output());
    if (sshd && home) {
      await sshExec(direct(), `rm -rf ~/${tag}-* ~/.ssh/${tag}-*`);
      await sshExec(direct2(), `rm -rf ~/.git ~/.bash_aliases ~/bin ~/.ssh ~/${tag}-* /tmp/${tag}*`);
    }
    await gh?.stop();
    await sshd?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it("exec: a write through a symlink already upstream into ~/.ssh is held as admin; denied, nothing is written", async () => {
    const probe = `${tag}-probe`;
    // Control: straight to sshd, the write lands in ~/.ssh.
    await sshExec(direct(), `echo x >> ${tag}-notes/${probe}`);
    expect(await exists(direct(), `${home}/.ssh/${probe}`)).toBe("yes");
    await sshExec(direct(), `rm -f ${home}/.ssh/${probe}`);

    for (const line of [
      `echo ssh-ed25519 AAAA probe >> ${tag}-notes/${probe}`,
      `cp /etc/hostname ~/${tag}-notes/${probe}`,
      `sh -c 'echo x > ${tag}-notes/${probe}'`,
      `cd ${tag}-notes && echo x >> ${probe}`,
      `cd && cd ${tag}-notes && touch ${probe}`,
      `env -C ${tag}-notes touch ${probe}`,
      `echo x | tee -a ${tag}-no*/${probe}`,
      // a link to the link, made by a glob the host expands, then written through in the same line
      `ln -s ${tag}-no*s ${tag}-again && echo x >> ${tag}-again/${probe}`,
    ]) {
      await expectHeldAdmin(line);
      expect(await exists(direct(), `${home}/.ssh/${probe}`), line).toBe("no");
    }
    expect(await exists(direct(), `${home}/${tag}-again`)).toBe("no");
  });

  it("sftp: a put through a symlink already upstream into ~/.ssh is held as admin; denied, nothing is written", async () => {
    const probe = `${tag}-sftp-probe`;
    const local = `/tmp/${tag}-local.pub`;
    fs.writeFileSync(local, "ssh-ed25519 AAAAC3Nza probe\n");
    try {
      let done = false;
      const put = sftpBatch(gw(), [`put ${local} ${tag}-notes/${probe}`]).then((r) => ((done = true), r));
      const approval = await waitForApproval(gh, tokens.approver, (a) => a.request?.text?.startsWith("sftp write") && a.request.text.endsWith(`${tag}-notes/${probe}`), { give: () => done });
      expect(approval, "sftp put through the link ran without approval").not.toBe(null);
      expect(approval!.request.kind).toBe("admin");
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "hunt2" })).status).toBe(200);
      expect((await put).code).not.toBe(0);
      expect(await exists(direct(), `${home}/.ssh/${probe}`)).toBe("no");
      // The same put into a plain directory runs unasked.
      const plain = await sftpBatch(gw(), [`put ${local} ${tag}-plain/${probe}`, `mkdir ${tag}-plain/new`, `rename ${tag}-plain/${probe} ${tag}-plain/new/${probe}`]);
      expect(plain.code, plain.stderr).toBe(0);
      expect(await exists(direct(), `${home}/${tag}-plain/new/${probe}`)).toBe("yes");
    } finally {
      fs.rmSync(local, { force: true });
    }
  });

  // An agent's write is allowed (masked) by the default policies; through the same link it is
  // admin, held for everyone.
  it("MCP run_ssh_command: an agent's write through the symlink is held as admin; an ordinary one runs", async () => {
    const probe = `${tag}-mcp-probe`;
    const agent = (await exchangeToken(gh.url, tokens.member, "hunt2-agent")).access_token;
    const client = new Client({ name: "ssh-hunt2", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${agent}` } } }));
    const run = (command: string) => client.callTool({ name: "run_ssh_command", arguments: { connection: "box", command, wait_seconds: 0 } }, undefined, { timeout: 60_000 }) as Promise<CallToolResult>;
    try {
      const line = `echo x >> ${tag}-notes/${probe}`;
      const held = await run(line);
      expect(held.structuredContent?.status, JSON.stringify(held.content)).toBe("held");
      const approval = await waitForApproval(gh, tokens.approver, line);
      expect(approval!.request.kind).toBe("admin");
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "hunt2" })).status).toBe(200);
      const plain = await run(`echo x >> ${tag}-plain/mcp && echo done`);
      expect(plain.isError, JSON.stringify(plain.content)).toBeFalsy();
      expect(JSON.stringify(plain.content)).toContain("done");
      expect(await exists(direct(), `${home}/.ssh/${probe}`)).toBe("no");
    } finally {
      await client.close();
    }
  });

  it("ordinary writes, after a cd too, still run without approval; a cd the text cannot follow makes a write unknown", async () => {
    await expectRuns(`echo x >> ${tag}-plain/f && cd ./${tag}-plain && echo y >> f && mkdir -p a/b/c && touch a/b/c/d`);
    await expectRuns(`cd / && echo x > tmp/${tag}-after-cd`);
    expect(fs.readFileSync(`/tmp/${tag}-after-cd`, "utf8")).toBe("x\n");
    fs.rmSync(`/tmp/${tag}-after-cd`);
    const r = await throughGateway(`cd - && touch ${tag}-cd-dash`);
    expect(r.outcome).toBe("held");
    expect(r.approval!.request.kind).toBe("unknown");
    expect(await exists(direct(), `${home}/${tag}-cd-dash`)).toBe("no");
  });

  it("a home directory outside /home: writes into its bin/ by absolute path are held (exec and sftp)", async () => {
    const h = HOME_USER.home;
    expect((await sshExec(direct2(), "rm -rf ~/bin && echo $HOME")).stdout.trim()).toBe(h);
    await expectHeldAdmin(`mkdir -p ${h}/bin && cp /bin/true ${h}/bin/${tag}`, "box2");
    expect(await exists(direct2(), `${h}/bin`)).toBe("no");

    let done = false;
    const mkdir = sftpBatch(gw("box2"), [`mkdir ${h}/bin`]).then((r) => ((done = true), r));
    const approval = await waitForApproval(gh, tokens.approver, `sftp mkdir ${h}/bin`, { give: () => done });
    expect(approval, "sftp mkdir of the home's bin ran without approval").not.toBe(null);
    expect(approval!.request.kind).toBe("admin");
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "hunt2" })).status).toBe(200);
    expect((await mkdir).code).not.toBe(0);
    expect(await exists(direct2(), `${h}/bin`)).toBe("no");
    await expectRuns(`mkdir -p ${h}/${tag}-data && touch ${h}/${tag}-data/x`, "box2");
  });

  it("git: a pull into the home directory, or a clone whose directory is .ssh, brings names nobody saw: held; into a project directory it runs", async () => {
    // A dotfiles repository with .bash_aliases (which Debian's .bashrc sources), and a repository named .ssh.git.
    const commit = "git -c user.email=a@b.test -c user.name=a commit -qm x";
    const setup = await sshExec(
      direct2(),
      `set -e; rm -rf /tmp/${tag}* ~/.git ~/.bash_aliases ~/.ssh; mkdir -p /tmp/${tag}; cd /tmp/${tag}` +
        ` && git init -q -b main dot && cd dot && echo 'echo planted' > .bash_aliases && git add . && ${commit}` +
        ` && cd .. && git init -q -b main keys && cd keys && echo 'ssh-ed25519 AAAA planted' > authorized_keys && git add . && ${commit}` +
        ` && cd .. && git clone -q --bare keys .ssh.git && git clone -q dot project` +
        // control: a clone of .ssh.git makes a directory .ssh holding authorized_keys
        ` && mkdir ctl && cd ctl && git clone -q /tmp/${tag}/.ssh.git && test -f .ssh/authorized_keys` +
        ` && cd ~ && git init -q -b main && git remote add origin /tmp/${tag}/dot && echo ok`,
    );
    expect(setup.stdout.trim(), setup.stderr).toBe("ok");

    await expectHeldAdmin("git pull -q origin main", "box2");
    await expectHeldAdmin(`git -C ~ pull -q origin main`, "box2");
    expect(await exists(direct2(), "~/.bash_aliases")).toBe("no");
    await expectHeldAdmin(`git clone -q /tmp/${tag}/.ssh.git`, "box2");
    await expectHeldAdmin(`git clone -q --depth 1 file:///tmp/${tag}/.ssh.git`, "box2");
    expect(await exists(direct2(), "~/.ssh")).toBe("no");

    await expectRuns(`git -C /tmp/${tag}/project pull -q origin main && git clone -q /tmp/${tag}/dot /tmp/${tag}/copy`, "box2");
  });
});
