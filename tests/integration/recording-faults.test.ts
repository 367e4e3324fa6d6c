import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { addConnection, sshUpstream } from "../support/api-fixture";
import { startSsh, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * SECURITY.md "Faults": the gateway killed mid-session loses at most the last batch interval of
 * the recording. Bulk output waits in the recording spool on disk before it is stored
 * (lib/gateway/recorder/spool.ts); a process killed with SIGKILL while a large output streams
 * leaves it there, and the next start on the same data dir stores it (and marks the session it
 * left live as failed).
 */
describe("recording when the gateway is killed", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let admin = "";
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-faults-"));

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false, dataDir }), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "box", { ...sshUpstream(sshd) });
  }, 120_000);

  afterAll(async () => {
    await gh?.stop();
    await sshd?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("SIGKILL during a large output: the restarted gateway stores what was spooled; the recording is what the client got, but for the last moment", async () => {
    const file = path.join(sshd.dir, "big.bin");
    const bytes = crypto.randomBytes(32 * 2 ** 20); // the kill comes 16 MiB in: many spool batches, and a recovery that is quick to check
    fs.writeFileSync(file, bytes, { mode: 0o644 });
    const token = (await apiCall(gh.url, admin, "POST", "/tokens", { name: "faults", ttlSeconds: 3600 })).body.token as string;
    const t: SshTarget = { port: gh.ports.ssh, user: "box", password: token };

    // `cat` through the gateway; once the client has half of it, the gateway is killed.
    const run = startSsh(t, `cat ${file}`);
    let received = 0;
    const half = new Promise<void>((resolve) =>
      run.child.stdout!.on("data", (d: Buffer) => {
        received += d.length;
        if (received >= bytes.length / 2) resolve();
      }),
    );
    await half;
    await gh.stop("SIGKILL");
    await run.exited;
    const got = received;
    expect(got).toBeLessThan(bytes.length);

    gh = await startGatehouse({ demo: false, dataDir });
    await expect.poll(() => /\[recorder\] recovered .*: [1-9]\d* events stored/.test(gh.output()), { timeout: 30_000 }).toBe(true);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const [session] = (await apiCall(gh.url, admin, "GET", "/sessions?protocol=ssh")).body.sessions as { id: string; status: string; endReason: string | null }[];
    // the killed process's session is not shown live forever, and is prepared for replay
    // (keyframes) once its spool is stored, without waiting for someone to open it
    expect(session).toMatchObject({ status: "failed", endReason: expect.stringMatching(/process serving it stopped/) });
    await expect.poll(() => gh.output().includes(`[replay] session ${session.id} channel 0 prepared for replay`), { timeout: 30_000 }).toBe(true);
    const res = await fetch(`${gh.url}/api/v1/sessions/${session.id}/export?format=jsonl`, { headers: { authorization: `Bearer ${admin}` } });
    const events = (await res.text()).trim().split("\n").map((l) => JSON.parse(l)) as { kind: string; payload: { d?: string; b64?: string } }[];
    const recorded = Buffer.concat(events.filter((e) => e.kind === "term.o").map((e) => (e.payload.d !== undefined ? Buffer.from(e.payload.d) : Buffer.from(e.payload.b64 ?? "", "base64"))));
    // exactly the start of what was sent, in order, nothing invented...
    expect(recorded.equals(bytes.subarray(0, recorded.length))).toBe(true);
    // ...and all that reached the client but for what was in flight at the kill (≤ one spool
    // write batch of 1 MiB, one 32 KiB coalescing buffer, and what the relay had in hand)
    console.info(`[faults test] client got ${got} bytes, recording holds ${recorded.length}; ${/recovered .*: (\d+) events stored/.exec(gh.output())?.[1]} events recovered from the spool`);
    expect(recorded.length).toBeGreaterThan(got - 4 * 2 ** 20);
  }, 120_000);
});
