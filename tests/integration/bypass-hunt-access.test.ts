import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { ssh2Connect, ssh2Exec } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * SECURITY.md "Approvals", "Identity and delegation" and "SSH escapes": bypasses found by
 * trying them for real (real OpenSSH sshd upstream, the ssh2 client, the REST API with real
 * tokens). Each test failed before its fix.
 */
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

describe("access bypass hunt", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const tokens = { admin: "", member: "", approver: "" };

  async function exchange(subject: string, actor: string, expiresIn?: number): Promise<{ access_token: string; token_id: string }> {
    const body = new URLSearchParams({ grant_type: EXCHANGE, subject_token: subject, actor, ...(expiresIn ? { expires_in: String(expiresIn) } : {}) });
    const res = await fetch(`${gh.url}/api/v1/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(200);
    return json;
  }

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [key, email, role, groups] of [["member", "hunt@example.test", "member", []], ["approver", "hunt-approver@example.test", "approver", ["approvers"]]] as const) {
      expect((await apiCall(gh.url, tokens.admin, "POST", "/users", { email, password: "a-long-password-1", role, groups })).status).toBe(200);
      tokens[key] = await login(gh.url, email, "a-long-password-1");
    }
    const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "box", type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username: sshd.user, secret: sshd.password, tags: ["staging"] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }, 120_000);

  afterAll(async () => {
    if (process.env.GH_DEBUG) console.log(gh?.output());
    await gh?.stop();
    await sshd?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it("a session opened with a connection ticket ends when the token the ticket was minted from expires", async () => {
    // A child token that lives 4 s; a ticket minted from it is good for one connection.
    const child = await exchange(tokens.member, "brief", 4);
    const minted = await apiCall(gh.url, child.access_token, "POST", "/tokens/ticket", { connection: "box" });
    expect(minted.status, JSON.stringify(minted.body)).toBe(200);
    const client = await ssh2Connect({ port: gh.ports.ssh, user: "box", password: minted.body.ticket });
    try {
      const run = await ssh2Exec(client, "sleep 7; echo STILL-RUNNING");
      const code = await run.done;
      // The session must not outlive the credential behind the ticket (as it would not with the token itself).
      expect(run.stdout()).not.toContain("STILL-RUNNING");
      expect(code).toBe(255);
      expect(run.stderr()).toMatch(/session ended: the token of this session expired/);
    } finally {
      client.end();
    }
  }, 30_000);
});
