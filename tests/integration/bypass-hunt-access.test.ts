import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { scp, ssh2Connect, ssh2Exec, type Ssh2Client } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { addApprover, addConnection, addUser, heldApproval, type Rec, sshUpstream } from "../support/api-fixture";

/**
 * SECURITY.md "Approvals", "Identity and delegation" and "SSH escapes": bypasses found by
 * trying them for real (real OpenSSH sshd upstream, the ssh2 client, the REST API with real
 * tokens). Each test failed before its fix.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// An agent named "gated" waits for an approver before its SSH session opens.
const POLICIES = `${DEFAULT_POLICIES}
@id("gated-connect")
@hold("approvers")
permit (principal, action == Gatehouse::Action::"connect", resource)
when { context.chain.agentNames.contains("gated") };
`;

describe("access bypass hunt", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const tokens = { admin: "", member: "", approver: "" };

  const exchange = (subject: string, actor: string, expiresIn?: number) => exchangeToken(gh.url, subject, actor, expiresIn ? { expires_in: String(expiresIn) } : {});

  const pendingApproval = (match: (a: Rec) => boolean) => heldApproval(gh, tokens.approver, match);

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, "hunt@example.test");
    tokens.approver = await addApprover(gh, tokens.admin, "hunt-approver@example.test");
    await addConnection(gh, tokens.admin, "box", { ...sshUpstream(sshd), tags: ["staging"] });
    expect((await apiCall(gh.url, tokens.admin, "PUT", "/policies", { text: POLICIES, comment: "bypass hunt" })).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await teardown(gh, sshd);
  });

  it("a session opened with a connection ticket ends when the token the ticket was minted from expires", async () => {
    // A child token that lives 8 s (7–8: expiry is in whole seconds), room for the ticket, login and
    // exec under load; a ticket minted from it is good for one connection.
    const child = await exchange(tokens.member, "brief", 8);
    const minted = await apiCall(gh.url, child.access_token, "POST", "/tokens/ticket", { connection: "box" });
    expect(minted.status, JSON.stringify(minted.body)).toBe(200);
    const client = await ssh2Connect({ port: gh.ports.ssh, user: "box", password: minted.body.ticket });
    try {
      const run = await ssh2Exec(client, "sleep 15; echo STILL-RUNNING");
      const code = await run.done;
      // The session must not outlive the credential behind the ticket (as it would not with the token itself).
      expect(run.stdout()).not.toContain("STILL-RUNNING");
      expect(code).toBe(255);
      expect(run.stderr()).toMatch(/session ended: the token of this session expired/);
    } finally {
      client.end();
    }
  }, 30_000);

  it("read-only programs told to run a command (sed's e flag; less on a pty) are held, not run as reads", async () => {
    const client = await ssh2Connect({ port: gh.ports.ssh, user: "box", password: tokens.member });
    try {
      // GNU sed runs the pattern space as a command with the `e` flag of `s`.
      const line = "echo | sed 's/.*/printf GH-SED-%s RAN/e'";
      const sed = await ssh2Exec(client, line);
      const a = await pendingApproval((p) => p.request.text === line);
      await sleep(300);
      expect(sed.stdout()).not.toContain("GH-SED-RAN");
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${a.id}/deny`, { reason: "hunt" })).status).toBe(200);
      expect(await sed.done).toBe(126);
      expect(sed.stdout()).not.toContain("GH-SED-RAN");

      // On a pty (ssh -t), less runs `!cmd`: as good as a shell.
      const less = await ssh2Exec(client, "less /etc/hostname", { pty: true });
      const b = await pendingApproval((p) => p.request.text === "less /etc/hostname");
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${b.id}/deny`, { reason: "hunt" })).status).toBe(200);
      expect(await less.done).toBe(126);

      // Without a pty the same pager is a plain read, and runs.
      const plain = await ssh2Exec(client, "less /etc/hostname");
      expect(await plain.done).toBe(0);
      expect(plain.stdout()).toBe(fs.readFileSync("/etc/hostname", "utf8"));
    } finally {
      client.end();
    }
  }, 30_000);

  it("an SSH session whose held connect was ended (token revoked) while waiting stays ended when an approver then approves: no SFTP read reaches the upstream", async () => {
    const agent = await exchange(tokens.member, "gated");
    const secret = `/tmp/gh-hunt-secret-${process.pid}.txt`;
    fs.writeFileSync(secret, "GH-HUNT-SECRET\n");
    fs.chmodSync(secret, 0o644);
    let client: Ssh2Client | null = null;
    try {
      client = await ssh2Connect({ port: gh.ports.ssh, user: "box", password: agent.access_token });
      // The SFTP channel is accepted at once and waits for the session (held).
      const sftp = new Promise<import("ssh2").SFTPWrapper>((resolve, reject) => client!.sftp((err, s) => (err ? reject(err) : resolve(s))));
      sftp.catch(() => {}); // refused before it is read below
      const held = await pendingApproval((a) => a.request.action === "connect" && a.chain.at(-1)?.name === "gated");
      // The agent's token is revoked while its session waits: the session is ended ...
      expect((await apiCall(gh.url, tokens.member, "DELETE", `/tokens/${agent.token_id}`)).status).toBe(200);
      await expect.poll(async () => (await apiCall(gh.url, tokens.approver, "GET", `/approvals/${held.id}`)).body.approval?.status, { timeout: 10_000 }).toMatch(/^(?!pending$)/);
      // ... and an approver, who cannot see that, approves the connection afterwards.
      // The ended session gave its hold up: the approval is withdrawn, not left for someone to approve.
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${held.id}/approve`, {})).status).toBe(409);
      const read = await sftp
        .then(
          (s) =>
            new Promise<string>((resolve) => {
              s.readFile(secret, (err, data) => resolve(err ? `error: ${err.message}` : data.toString()));
            }),
        )
        .catch((err: Error) => `error: ${err.message}`);
      expect(read).not.toContain("GH-HUNT-SECRET");
      const exec = await ssh2Exec(client, `cat ${secret}`).catch(() => null);
      if (exec) {
        await exec.done;
        expect(exec.stdout()).not.toContain("GH-HUNT-SECRET");
      }
    } finally {
      client?.end();
      fs.rmSync(secret, { force: true });
    }
  }, 30_000);

  it("an agent, whose reads are masked, cannot read a file raw over SFTP or legacy scp; a person can; a command's output is masked instead", async () => {
    const secret = `/tmp/gh-hunt-pii-${process.pid}.txt`;
    fs.writeFileSync(secret, "card 4111 1111 1111 1111\n");
    fs.chmodSync(secret, 0o644);
    const readOver = async (token: string) => {
      const client = await ssh2Connect({ port: gh.ports.ssh, user: "box", password: token });
      try {
        const sftp = await new Promise<import("ssh2").SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
        const read = await new Promise<string>((resolve) => sftp.readFile(secret, (err, data) => resolve(err ? `error: ${err.message}` : data.toString())));
        const cat = await ssh2Exec(client, `cat ${secret}`);
        await cat.done;
        return { read, cat: cat.stdout() };
      } finally {
        client.end();
      }
    };
    try {
      const person = await readOver(tokens.member);
      expect(person.read).toBe("card 4111 1111 1111 1111\n");
      const agent = await readOver((await exchange(tokens.member, "file-reader")).access_token);
      expect(agent.read).toMatch(/^error: gatehouse: denied: masking applies to you here, and what this returns cannot be masked \(files over SFTP, scp or rsync\)/);
      expect(agent.cat).toContain("card ");
      expect(agent.cat).not.toContain("4111 1111 1111 1111");
      // nor with the legacy scp protocol (a binary stream the terminal masking cannot apply to)
      const agentToken = (await exchange(tokens.member, "scp-reader")).access_token;
      const copied = `${secret}.copy`;
      const refused = await scp({ port: gh.ports.ssh, user: "box", password: agentToken }, `:${secret}`, copied, { legacy: true });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/denied: masking applies to you here, and what this returns cannot be masked/);
      expect(fs.existsSync(copied)).toBe(false);
      const person2 = await scp({ port: gh.ports.ssh, user: "box", password: tokens.member }, `:${secret}`, copied, { legacy: true });
      expect(person2.code, person2.stderr).toBe(0);
      expect(fs.readFileSync(copied, "utf8")).toBe("card 4111 1111 1111 1111\n");
      fs.rmSync(copied, { force: true });
    } finally {
      fs.rmSync(secret, { force: true });
    }
  }, 30_000);
});
