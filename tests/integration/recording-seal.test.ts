import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, jsonOf } from "../support/cli";
import { addConnection, sessionsOf, sshUpstream, type Rec } from "../support/api-fixture";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { gatewayConninfo, runPsql } from "../support/psql";
import { ssh2Connect, ssh2Exec, startSsh, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * Session recordings are sealed into the keyed audit log when the session ends
 * (lib/services/sessions/seal.ts): someone who can write to the database edits or deletes a
 * recorded event, and `sessions verify` (REST and CLI) says TAMPERED. Real sshd, real psql, the
 * embedded database edited with PGlite while the gateway is down, as an intruder with disk access.
 */
describe("sealed recordings", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let admin = "";
  let token = "";
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-seal-"));
  const ssh = sessionsOf(() => gh, () => admin, "ssh");
  const pg = sessionsOf(() => gh, () => admin, "postgres");
  const target = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: token });
  const verify = async (id: string) => {
    const res = await apiCall(gh.url, admin, "GET", `/sessions/${id}/verify`);
    expect(res.status).toBe(200);
    return res.body.verification as Rec;
  };
  const sealedState = (id: string) => expect.poll(async () => (await verify(id)).state, { timeout: 20_000 });
  const ids: Record<"exec" | "bulk" | "sql" | "killed" | "live", string> = { exec: "", bulk: "", sql: "", killed: "", live: "" };
  let liveClient: Awaited<ReturnType<typeof ssh2Connect>> | null = null;

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ dataDir }), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "box", sshUpstream(sshd));
    token = (await apiCall(gh.url, admin, "POST", "/tokens", { name: "seal", ttlSeconds: 3600 })).body.token as string;
  }, 120_000);

  afterAll(async () => {
    liveClient?.end();
    await gh?.stop();
    await sshd?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function execSession(command: string): Promise<string> {
    const known = await ssh.ids();
    const client = await ssh2Connect(target());
    const run = await ssh2Exec(client, command);
    await run.done;
    client.end();
    return ssh.opened(known);
  }

  it("ended, bulk (spooled), SQL and killed sessions are sealed intact; a live one is not sealed", async () => {
    ids.exec = await execSession("echo sealed-output; seq 1 20");
    // ≥ 8 KiB chunks go through the recording spool (GATEHOUSE_SPOOL_DIR) and are stored as bytes
    ids.bulk = await execSession("head -c 3000000 /dev/urandom | base64 -w 0");
    const knownPg = await pg.ids();
    const psql = await runPsql(gatewayConninfo(gh.ports.postgres, "demo-postgres", gh.adminEmail), token, ["-c", "select 1 as one", "-c", "select 2 as two"]);
    expect(psql.code).toBe(0);
    ids.sql = await pg.opened(knownPg);

    const knownKill = await ssh.ids();
    const victim = await ssh2Connect(target());
    const sleeping = await ssh2Exec(victim, "sleep 60");
    ids.killed = await ssh.opened(knownKill);
    expect((await apiCall(gh.url, admin, "POST", `/sessions/${ids.killed}/kill`, { reason: "seal test" })).status).toBe(200);
    await sleeping.done;
    victim.end();

    for (const id of [ids.exec, ids.bulk, ids.sql, ids.killed]) await sealedState(id).toBe("intact");
    const bulk = await verify(ids.bulk);
    expect(bulk.events).toBeGreaterThan(10);

    const knownLive = await ssh.ids();
    liveClient = await ssh2Connect(target());
    await new Promise<void>((resolve, reject) => liveClient!.shell({ term: "xterm", cols: 80, rows: 24 }, (err, ch) => (err ? reject(err) : (ch.write("echo still-live\n"), resolve()))));
    ids.live = await ssh.opened(knownLive);
    const live = await verify(ids.live);
    expect(live).toMatchObject({ state: "unsealed", reason: expect.stringMatching(/live/) });

    // the seals are in the keyed audit chain, which still verifies
    const audit = (await apiCall(gh.url, admin, "GET", "/audit?limit=1000")).body.entries as Rec[];
    expect(audit.filter((e) => e.action === "session.sealed").map((e) => e.subject)).toEqual(expect.arrayContaining([ids.exec, ids.bulk, ids.sql, ids.killed].map((id) => `session:${id}`)));
    expect((await apiCall(gh.url, admin, "GET", "/audit/verify")).body).toMatchObject({ ok: true });
    // a verification is audited like a read of the recording
    expect(audit.some((e) => e.action === "session.verify" && e.subject === `session:${ids.exec}` && e.detail.state === "intact")).toBe(true);
  }, 180_000);

  it("an edited event and a deleted (spooled) event say TAMPERED; a session the killed gateway left live is sealed at the next start", async () => {
    // a large output streaming when the gateway dies: its spool is stored by the next start
    const big = path.join(sshd.dir, "seal-big.bin");
    fs.writeFileSync(big, crypto.randomBytes(48 * 2 ** 20), { mode: 0o644 });
    const knownBig = await ssh.ids();
    const streaming = startSsh(target(), `cat ${big}`);
    let received = 0;
    await new Promise<void>((resolve) => streaming.child.stdout!.on("data", (d: Buffer) => (received += d.length) >= 16 * 2 ** 20 && resolve()));
    const spooledId = await ssh.opened(knownBig);
    await gh.stop("SIGKILL");
    await streaming.exited;
    liveClient?.end();
    liveClient = null;

    const { PGlite } = await import("@electric-sql/pglite");
    const db = await PGlite.create(`${dataDir}/db`);
    const edited = await db.query<{ seq: number }>(
      `update session_events set payload = jsonb_set(payload, '{d}', '"forged"') where session_id = $1 and seq = (select min(seq) from session_events where session_id = $1 and kind = 'term.o' and payload ? 'd') returning seq`,
      [ids.exec],
    );
    expect(edited.rows).toHaveLength(1);
    const deleted = await db.query<{ seq: number }>(`delete from session_events where session_id = $1 and seq = (select min(seq) from session_events where session_id = $1 and data is not null) returning seq`, [ids.bulk]);
    expect(deleted.rows).toHaveLength(1);
    await db.close();

    gh = await startGatehouse({ dataDir });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);

    const exec = await verify(ids.exec);
    expect(exec).toMatchObject({ state: "tampered", afterSeq: edited.rows[0].seq - 1, upToSeq: edited.rows[0].seq });
    const bulk = await verify(ids.bulk);
    expect(bulk.state).toBe("tampered");
    expect(bulk.afterSeq).toBeLessThan(deleted.rows[0].seq);
    expect((await verify(ids.sql)).state).toBe("intact");
    expect((await verify(ids.killed)).state).toBe("intact");

    // SIGKILLed mid-session: marked failed at the next start, then sealed with what was stored
    const live = (await apiCall(gh.url, admin, "GET", `/sessions/${ids.live}`)).body.session as Rec;
    expect(live.status).toBe("failed");
    await sealedState(ids.live).toBe("intact");
    await expect.poll(() => /\[recorder\] recovered .*: [1-9]\d* events stored/.test(gh.output()), { timeout: 30_000 }).toBe(true);
    await sealedState(spooledId).toBe("intact");
    const seals = ((await apiCall(gh.url, admin, "GET", "/audit?limit=1000")).body.entries as Rec[]).filter((e) => e.action === "session.sealed");
    expect(seals.find((e) => e.subject === `session:${spooledId}`)?.detail).toMatchObject({ status: "failed", after: "restart" });

    const env = { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: admin };
    const bad = await runCli(["sessions", "verify", ids.exec], { env });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/recording TAMPERED: .*seq/);
    const good = await runCli(["sessions", "verify", ids.sql, "--json"], { env });
    expect(good.code).toBe(0);
    expect(jsonOf(good.stdout).verification).toMatchObject({ state: "intact" });
  }, 180_000);
});
