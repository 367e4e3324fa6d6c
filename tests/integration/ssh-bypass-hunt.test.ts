import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { sshExec, startSsh, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * Exec lines that the classifier took for a read (or a mere write) while the shell upstream runs
 * a program of the caller's choosing with them: under the default policies a member's `unknown`
 * command waits for an approver, so each of these ran with nobody asked. Every line is first run
 * against the sshd directly, which proves its payload (creating a marker file) really runs; then
 * through Gatehouse it must be held, and once the approver denies it, nothing has run.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Rec = Record<string, any>;

describe("SSH exec lines that run more than the classifier saw", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const tokens = { admin: "", member: "", approver: "" };
  const dir = `/tmp/gh-ssh-hunt-${process.pid}`;
  let n = 0;

  const gw = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: tokens.member });
  const direct = (): SshTarget => ({ port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath });

  async function pendingApproval(text: string, give: () => boolean): Promise<Rec | null> {
    for (;;) {
      const list = await apiCall(gh.url, tokens.approver, "GET", "/approvals?status=pending");
      const hit = (list.body.approvals as Rec[]).find((a) => a.request.text === text);
      if (hit) return hit;
      if (give()) return null;
      await sleep(50);
    }
  }

  /** What the gateway did with `line`: "held" (then denied by the approver) or "ran" (no approval asked). */
  async function throughGateway(line: string): Promise<{ outcome: "held" | "ran"; code: number | null; stderr: string; approval: Rec | null }> {
    const run = startSsh(gw(), line);
    let exited = false;
    void run.exited.then(() => (exited = true));
    const approval = await pendingApproval(line, () => exited);
    if (approval) expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval.id}/deny`, { reason: "bypass hunt" })).status).toBe(200);
    const code = await run.exited;
    return { outcome: approval ? "held" : "ran", code, stderr: run.stderr(), approval };
  }

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [key, email, role, groups] of [["member", "ops@example.test", "member", []], ["approver", "approver@example.test", "approver", ["approvers"]]] as const) {
      expect((await apiCall(gh.url, tokens.admin, "POST", "/users", { email, password: "a-long-password-1", role, groups })).status).toBe(200);
      tokens[key] = await login(gh.url, email, "a-long-password-1");
    }
    const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "box", type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username: sshd.user, secret: sshd.password, tags: ["staging"] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // A scratch dir the upstream login user owns.
    const setup = await sshExec(direct(), `mkdir -p ${dir} && cp /bin/sh ${dir}/cat && echo ok`);
    expect(setup.stdout, setup.stderr).toBe("ok\n");
  }, 120_000);

  afterAll(async () => {
    if (process.env.GH_DEBUG) console.log(gh?.output());
    await gh?.stop();
    await sshd?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Each line creates the marker M when its hidden program runs.
  const attacks: [string, (m: string) => string][] = [
    ["a comment hides an opening quote", (m) => `echo #'\neval touch ${m}\n#'`],
    ["BASH_ENV=/dev/stdin makes bash run its stdin first", (m) => `echo 'touch ${m}' | BASH_ENV=/dev/stdin bash -c true`],
    ["env -S splits its argument into a command", (m) => `env '-Stouch ${m}'`],
    ["env -u takes a value: the program is not the word after it", (m) => `env -u cat sh -c 'eval touch ${m}'`],
    ["env BASH_ENV=/dev/stdin, the same through env", (m) => `echo 'touch ${m}' | env BASH_ENV=/dev/stdin bash -c true`],
    ["sed's e command after a regex address", (m) => `echo | sed '/^/e touch ${m}'`],
    ["sed's e command after a first~step address", (m) => `echo | sed -n '0~1e touch ${m}'`],
    ["xargs -I takes a value: the program is not the word after it", (m) => `echo 'touch ${m}' | xargs -I cat sh -c cat`],
    ["xargs appends options read from stdin to a read-only program", (m) => `echo '-exec touch ${m} ;' | xargs find / -maxdepth 0`],
    ["a variable expands into an option", (m) => `X=-exec; find / -maxdepth 0 $X touch ${m} ';'`],
    ["ANSI-C quoting spells an option", (m) => `find / -maxdepth 0 $'-exec' touch ${m} ';'`],
    ["brace expansion spells an option", (m) => `find / -maxdepth 0 {-exec,} touch ${m} ';'`],
    ["a program named like a reader, outside the system's directories", (m) => `${dir}/cat -c 'touch ${m}'`],
  ];

  it.each(attacks)("%s: held, and nothing runs once denied", async (_what, build) => {
    const marker = `${dir}/m${++n}`;
    const line = build(marker);
    // Control: straight to sshd, the payload runs (so the probe would notice a gateway that let it through).
    await sshExec(direct(), line);
    expect(fs.existsSync(marker), `the payload of ${JSON.stringify(line)} did not run against sshd directly`).toBe(true);
    fs.rmSync(marker);

    const r = await throughGateway(line);
    expect(r.outcome, `${JSON.stringify(line)} ran without approval (exit ${r.code}): ${r.stderr}`).toBe("held");
    expect(r.approval!.request.kind).not.toBe("read");
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/denied/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it("plain reads and writes still run without approval", async () => {
    for (const line of ["ls -la /tmp | wc -l", `ls ${dir}/*`, "LANG=C date +%s", `touch ${dir}/plain && rm ${dir}/plain`, "find / -maxdepth 0 -name x"]) {
      const r = await sshExec(gw(), line);
      expect(r.code, `${line}: ${r.stderr}`).toBe(0);
      expect(r.stderr, line).not.toMatch(/held/);
    }
  });
});
