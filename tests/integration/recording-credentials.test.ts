import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addConnection, sessionsOf, sshUpstream, type Rec } from "../support/api-fixture";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { gatewayConninfo, runPsql } from "../support/psql";
import { ssh2Connect, sshExec, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * A Gatehouse token typed or printed inside a recorded session is a working credential: the
 * recording (what auditors read), its exports and its replay must never hold it, with no masking
 * rule configured (lib/gateway/recorder/credential-scrub.ts). The client's own terminal still
 * shows it. Real sshd, OpenSSH and psql clients; the ssh2 client library for keystroke timing.
 */
describe("credentials inside recorded sessions", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let admin = "";
  let token = "";
  const ssh = sessionsOf(() => gh, () => admin, "ssh");
  const pg = sessionsOf(() => gh, () => admin, "postgres");
  const target = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: token });

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse(), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "box", sshUpstream(sshd));
    token = (await apiCall(gh.url, admin, "POST", "/tokens", { name: "in-session", ttlSeconds: 3600 })).body.token as string;
    expect(token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  }, 120_000);

  afterAll(async () => {
    await gh?.stop();
    await sshd?.stop();
  });

  const get = async (p: string) => {
    const res = await fetch(`${gh.url}/api/v1${p}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    return res.text();
  };

  /** Everything a reader gets of the recording: JSONL export (bytes decoded), asciicast export, replay index and window. */
  async function everythingRecorded(id: string, terminal: boolean): Promise<string> {
    const events = await ssh.recorded(id);
    const decoded = events.map((e: Rec) => (typeof e.payload?.b64 === "string" ? Buffer.from(e.payload.b64, "base64").toString("latin1") : "")).join("");
    const parts = [await get(`/sessions/${id}/export?format=jsonl`), decoded];
    if (terminal) parts.push(await get(`/sessions/${id}/export?format=asciicast&raw=1`), await get(`/sessions/${id}/replay?ch=0`), await get(`/sessions/${id}/replay?ch=0&from=0&span=600000`));
    return parts.join("\n");
  }

  /** Neither the token nor its signature (the part that makes it usable) is anywhere in it. */
  function expectNoToken(text: string) {
    const signature = token.split(".")[2];
    expect(text).not.toContain(token);
    expect(text).not.toContain(signature.slice(0, 24));
    expect(text).not.toContain(signature.slice(-24));
  }

  it("`echo <token>` as an exec command, and printed in bulk (the spool path)", async () => {
    const known = await ssh.ids();
    const run = await sshExec(target(), `echo ${token}`);
    expect(run.stdout).toContain(token); // the user's own terminal is theirs
    const id = await ssh.opened(known);
    const recorded = await everythingRecorded(id, true);
    expectNoToken(recorded);
    expect(recorded).toContain("[REDACTED gatehouse credential");

    // ~2 MB of output with the token on every line: ≥ 8 KiB chunks are spooled and stored as
    // bytes, and tokens straddle the 32 KiB coalescing boundaries
    const knownBulk = await ssh.ids();
    const file = path.join(sshd.dir, "tokens.txt");
    fs.writeFileSync(file, Array.from({ length: 5000 }, (_, i) => `line ${i} ${token}\n`).join(""), { mode: 0o644 });
    const bulk = await sshExec(target(), `cat ${file}`);
    expect(bulk.code).toBe(0);
    expect(bulk.stdout.split(token).length - 1).toBe(5000);
    const bulkId = await ssh.opened(knownBulk);
    const events = await ssh.recorded(bulkId);
    const output = events.filter((e: Rec) => e.kind === "term.o").map((e: Rec) => e.payload.d ?? Buffer.from(e.payload.b64, "base64").toString()).join("");
    // same length: offsets in the recording are those of what the client got
    expect(output.length).toBe(bulk.stdout.length);
    expect(output.split("[REDACTED gatehouse credential").length - 1).toBe(5000);
    expectNoToken(await everythingRecorded(bulkId, true));
  }, 120_000);

  it("in a shell: echoed, typed a key at a time at a prompt, and written in two halves", async () => {
    const known = await ssh.ids();
    const client = await ssh2Connect(target());
    let seen = "";
    const shell = await new Promise<import("ssh2").ClientChannel>((resolve, reject) => client.shell({ term: "xterm", cols: 80, rows: 24 }, (err, ch) => (err ? reject(err) : resolve(ch))));
    shell.on("data", (d: Buffer) => (seen += d.toString()));
    const until = async (text: string) => expect.poll(() => seen.includes(text), { timeout: 10_000 }).toBe(true);
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    shell.write(`echo one ${token} done\n`);
    await until(`one ${token} done\r\n`);
    shell.write("read -r x; echo got-${#x}\n");
    await pause(300);
    for (const c of token) {
      shell.write(c);
      await pause(2);
    }
    shell.write("\n");
    await until(`got-${token.length}`);
    const half = Math.floor(token.length / 2);
    shell.write(`echo two-${token.slice(0, half)}`);
    await pause(200);
    shell.write(`${token.slice(half)} end\n`);
    await until(`two-${token} end\r\n`);
    shell.write("exit\n");
    await new Promise((r) => shell.on("close", r));
    client.end();
    expect(seen).toContain(token);
    const id = await ssh.opened(known);
    const recorded = await everythingRecorded(id, true);
    expectNoToken(recorded);
    const events = await ssh.recorded(id);
    // the command lines are reconstructed, without the token
    expect(events.filter((e: Rec) => e.kind === "term.cmd").map((e: Rec) => e.payload.text)).toEqual(expect.arrayContaining([expect.stringMatching(/^echo one \[REDACTED gatehouse credential\**\] done$/)]));
  }, 120_000);

  it("psql `select '<token>'`: the statement and its sampled rows are recorded without it", async () => {
    const known = await pg.ids();
    const run = await runPsql(gatewayConninfo(gh.ports.postgres, "demo-postgres", gh.adminEmail), token, ["-A", "-t", "-c", `select '${token}' as t`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(token);
    const id = await pg.opened(known);
    const recorded = await everythingRecorded(id, false);
    expectNoToken(recorded);
    expect(recorded).toMatch(/select '\[REDACTED gatehouse credential\**\]' as t/);
  }, 60_000);
});
