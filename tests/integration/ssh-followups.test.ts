import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addConnection, sshUpstream } from "../support/api-fixture";
import { openPostgres, type DbHandle } from "@/db/client";
import type { Caller } from "@/lib/auth/caller";
import { killSession } from "@/lib/services/sessions/kill";
import { removeSshKey } from "@/lib/services/ssh-keys/remove";
import { freezePostgres } from "../support/pg-freeze";
import { createDatabase, startPostgres15, type Postgres15 } from "../support/postgres";
import { rawSftp, statusOf } from "../support/sftp-raw";
import { sftpBatch, ssh2Connect, ssh2Exec, ssh2Subsystem, sshExec, startSsh, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * Follow-ups on the SSH gateway, with real OpenSSH clients through a real Gatehouse (its store a
 * real PostgreSQL 15) to a real sshd: persistence paths reached by another name than the one
 * written, SFTP beyond version 3, kills and key removals whose notification was lost, and what an
 * SSH client is told while Gatehouse's database is down.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Rec = Record<string, any>;

describe("SSH gateway follow-ups", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let storeUrl: string;
  let home: string;
  const tokens = { admin: "", member: "", approver: "" };
  const local = fs.mkdtempSync(path.join(os.tmpdir(), "gh-ssh-followups-"));
  const probe = `gh-followup-${process.pid}`;

  const gw = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: tokens.member });
  const direct = (): SshTarget => ({ port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath });
  const upstream = async (line: string) => (await sshExec(direct(), line)).stdout.trim();
  const exists = (p: string) => upstream(`test -e ${p} -o -L ${p} && echo yes || echo no`);

  async function pendingApproval(match: (text: string) => boolean, give: () => boolean): Promise<Rec | null> {
    for (;;) {
      const list = await apiCall(gh.url, tokens.approver, "GET", "/approvals?status=pending");
      const hit = (list.body.approvals as Rec[]).find((a) => match(a.request.text));
      if (hit) return hit;
      if (give()) return null;
      await sleep(50);
    }
  }

  /** Runs `run` (an ssh or sftp client) and denies the approval it waits for, if any: "held" (with the kind asked) or "ran". */
  async function heldOrRan(match: (text: string) => boolean, run: () => Promise<unknown>): Promise<{ outcome: "held" | "ran"; kind?: string }> {
    let done = false;
    const finished = run().finally(() => (done = true));
    const approval = await pendingApproval(match, () => done);
    if (approval) expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval.id}/deny`, { reason: "follow-up" })).status).toBe(200);
    await finished;
    return approval ? { outcome: "held", kind: approval.request.kind } : { outcome: "ran" };
  }

  /** The newest SSH session's id, and its recorded events once it has ended. */
  async function newestSession(): Promise<string> {
    const res = await apiCall(gh.url, tokens.admin, "GET", "/sessions?protocol=ssh&limit=1");
    return (res.body.sessions as Rec[])[0].id;
  }
  async function eventsOf(id: string): Promise<Rec[]> {
    for (let i = 0; ; i++) {
      const s = await apiCall(gh.url, tokens.admin, "GET", `/sessions/${id}`);
      if (s.body.session.status !== "live" || i > 100) break;
      await sleep(100);
    }
    return (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${id}/events`)).body.events as Rec[];
  }

  const execHeld = (line: string) => heldOrRan((t) => t === line, () => startSsh(gw(), line).exited);

  beforeAll(async () => {
    [pg, sshd] = await Promise.all([startPostgres15(), startSshd()]);
    storeUrl = await createDatabase(pg, "gh_store");
    // This test process stands in for a second Gatehouse on the store (it kills sessions and
    // removes keys through the services layer): like every process there, it needs the audit key.
    process.env.GATEHOUSE_AUDIT_KEY = Buffer.alloc(32, 7).toString("base64");
    gh = await startGatehouse({ demo: false, env: { DATABASE_URL: storeUrl, GATEHOUSE_POLICY_POLL_MS: "500", GATEHOUSE_NODE_HEARTBEAT_MS: "1000", GATEHOUSE_SSH_STORE_TIMEOUT_MS: "3000", GATEHOUSE_AUDIT_KEY: process.env.GATEHOUSE_AUDIT_KEY } });
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [key, email, role, groups] of [["member", "ops@example.test", "member", []], ["approver", "approver@example.test", "approver", ["approvers"]]] as const) {
      expect((await apiCall(gh.url, tokens.admin, "POST", "/users", { email, password: "a-long-password-1", role, groups })).status).toBe(200);
      tokens[key] = await login(gh.url, email, "a-long-password-1");
    }
    await addConnection(gh, tokens.admin, "box", { ...sshUpstream(sshd), tags: ["staging"] });
    home = await upstream("mkdir -p ~/.ssh && echo $HOME");
    expect(home).toMatch(/^\//);
  }, 180_000);

  afterAll(async () => {
    if (process.env.GH_DEBUG) console.log(gh?.output());
    if (sshd) await sshExec(direct(), `rm -rf ${home}/${probe}* ${home}/.ssh/${probe}*`).catch(() => {});
    await teardown(gh, sshd, pg);
    fs.rmSync(local, { recursive: true, force: true });
  });

  describe("persistence paths reached by another name", () => {
    // Each line really reaches ~/.ssh (or a link to a directory above it) upstream when it runs:
    // through Gatehouse it must wait for an approver as admin, and nothing exists once denied.
    it("exec: a glob, a link to the home directory, an archive extracted there, env -C", async () => {
      const tarDir = path.join(local, "payload");
      fs.mkdirSync(path.join(tarDir, ".ssh"), { recursive: true });
      fs.writeFileSync(path.join(tarDir, ".ssh", `${probe}-tar`), "ssh-ed25519 AAAA planted\n");
      execFileSync("tar", ["cf", path.join(local, "payload.tar"), "-C", tarDir, ".ssh"]);
      // (copies from /tmp: a system path such as /etc/hostname in a write is admin by itself)
      const put = await sftpBatch(direct(), [`put ${path.join(local, "payload.tar")} /tmp/${probe}.tar`, `put ${path.join(local, "payload.tar")} /tmp/${probe}.src`]);
      expect(put.code, put.stderr).toBe(0);
      const cases: [string, string][] = [
        [`cp /tmp/${probe}.src ~/.ss?/${probe}-glob`, `.ssh/${probe}-glob`],
        [`ln -s ~ ${probe}-home`, `${probe}-home`],
        [`tar xf /tmp/${probe}.tar`, `.ssh/${probe}-tar`],
        [`env -C ${home}/.. cp /tmp/${probe}.src ${path.basename(home)}/.ss[h]/${probe}-chdir`, `.ssh/${probe}-chdir`],
        [`printf %s ~/.ssh/${probe}-xargs | xargs -0 tee -a`, `.ssh/${probe}-xargs`],
        [`mkdir -p ${probe}-repo2 ${probe}-stage2/hooks && mv ${probe}-stage2 ${probe}-repo2/.git`, `${probe}-repo2/.git`],
      ];
      try {
        for (const [line, made] of cases) {
          const r = await execHeld(line);
          expect(r.outcome, `${line} ran without approval`).toBe("held");
          expect(r.kind, line).toBe("admin");
          expect(await exists(`${home}/${made}`), line).toBe("no");
        }
        // an ordinary copy in the home directory is still a plain write
        const plain = await sshExec(gw(), `cp /tmp/${probe}.src ${probe}-plain && rm ${probe}-plain`);
        expect(plain.code, plain.stderr).toBe(0);
      } finally {
        await upstream(`rm -f /tmp/${probe}.tar /tmp/${probe}.src`);
      }
    });

    it("exec: git config that points hooks, the pager or fsmonitor at a program is held as admin; reading it is not", async () => {
      const repo = `${home}/${probe}-gitrepo`;
      await upstream(`git init -q ${repo}`);
      const hooksPath = async () => upstream(`git -C ${repo} config --get core.hooksPath || echo unset`);
      for (const line of [`git -C ${repo} config core.hooksPath /tmp/${probe}-hooks`, `git -C ${repo} config core.fsmonitor /tmp/${probe}-monitor`]) {
        const r = await execHeld(line);
        expect(r.outcome, `${line} ran without approval`).toBe("held");
        expect(r.kind).toBe("admin");
      }
      expect(await hooksPath()).toBe("unset");
      const read = await sshExec(gw(), `git -C ${repo} config --get core.bare`);
      expect(read.code, read.stderr).toBe(0);
      expect(read.stdout).toBe("false\n");
    });

    it("exec: a command with a NUL in it is refused (a server reading C strings would run only the part before it)", async () => {
      const client = await ssh2Connect(gw());
      try {
        const refused = await ssh2Exec(client, `cp /etc/hostname ~/.ssh\0_old/${probe}-nul`);
        expect(await refused.done).toBe(126);
        expect(refused.stderr()).toBe("gatehouse: denied: the command contains a NUL byte\n");
        const after = await ssh2Exec(client, "echo still-serving");
        await after.done;
        expect(after.stdout()).toBe("still-serving\n");
      } finally {
        client.end();
      }
      expect(await exists(`${home}/.ssh/${probe}-nul`)).toBe("no");
    });

    it("sftp: a symlink to / or to the home directory, a directory renamed to .git, are held as admin", async () => {
      for (const [target, link] of [["/", `${probe}-root`], [home, `${probe}-h`], ["..", `${probe}-up`]]) {
        const r = await heldOrRan((t) => t.startsWith("sftp symlink ") && t.includes(link), () => sftpBatch(gw(), [`ln -s ${target} ${link}`]));
        expect(r.outcome, `sftp ln -s ${target} ran without approval`).toBe("held");
        expect(r.kind).toBe("admin");
        expect(await exists(`${home}/${link}`)).toBe("no");
      }
      // a directory renamed to a repository's .git brings its hooks/ with it
      await upstream(`mkdir -p ${probe}-repo ${probe}-stage/hooks && echo 'touch /tmp/${probe}-hooked' > ${probe}-stage/hooks/post-checkout`);
      const moved = await heldOrRan((t) => t.startsWith("sftp rename ") && t.includes(`${probe}-repo/.git`), () => sftpBatch(gw(), [`rename ${probe}-stage ${probe}-repo/.git`]));
      expect(moved.outcome, "sftp rename onto .git ran without approval").toBe("held");
      expect(moved.kind).toBe("admin");
      expect(await exists(`${home}/${probe}-repo/.git`)).toBe("no");
      // a link to an ordinary file is a plain write
      const plain = await sftpBatch(gw(), [`ln -s /tmp/${probe}-nowhere ${probe}-plain-link`, `rm ${probe}-plain-link`]);
      expect(plain.code, plain.stderr).toBe(0);
    });
  });

  describe("SFTP beyond version 3", () => {
    // OpenSSH's sftp-server speaks 3 only and never answers a request type it does not know (the
    // client waits for ever); a server that speaks 6 would read OPEN, RENAME and LINK in a layout
    // the gateway does not parse. So the gateway asks upstream for 3, and answers itself what 3 lacks.
    it("a client asking for version 6 gets 3; LINK and BLOCK are refused by the gateway and recorded, never forwarded", async () => {
      const client = await ssh2Connect(gw());
      let id: string;
      try {
        const sftp = rawSftp((await ssh2Subsystem(client, "sftp")).channel);
        sftp.send(1, 6); // INIT, version 6
        const version = await sftp.next();
        expect(version?.type).toBe(2);
        expect(version!.body.readUInt32BE(0)).toBe(3);
        // version 6's LINK (21): new-link-path, existing-path, sym-link; BLOCK (22): handle, offset, length, mask
        sftp.send(21, 7, `${home}/${probe}-v6link`, "/", Buffer.from([1]));
        const link = await sftp.next();
        expect(link?.type, "no answer to LINK").toBe(101);
        expect(statusOf(link!.body)).toEqual({ id: 7, code: 8, message: "gatehouse: SFTP request type 21 is not supported (SFTP version 3 only)" });
        sftp.send(22, 8, "h", 0, 0, 0, 0, 0, 1);
        expect(statusOf((await sftp.next())!.body)).toMatchObject({ id: 8, code: 8 });
        // the channel goes on: a version 3 REALPATH is answered by the upstream (NAME)
        sftp.send(16, 9, ".");
        expect((await sftp.next())?.type).toBe(104);
        id = await newestSession();
      } finally {
        client.end();
      }
      expect(await exists(`${home}/${probe}-v6link`)).toBe("no");
      const sftpEvents = (await eventsOf(id)).filter((e) => e.kind === "sftp").map((e) => e.payload as Rec);
      expect(sftpEvents).toContainEqual(expect.objectContaining({ op: "init", flags: "version 6", status: "offered version 3" }));
      expect(sftpEvents).toContainEqual(expect.objectContaining({ op: "type 21", status: "refused: not an SFTP version 3 request" }));
      expect(sftpEvents).toContainEqual(expect.objectContaining({ op: "type 22", status: "refused: not an SFTP version 3 request" }));
    });

    it("a path with a NUL in it ends the channel: it never reaches a server that would read it up to the NUL", async () => {
      const client = await ssh2Connect(gw());
      let id: string;
      try {
        const run = await ssh2Subsystem(client, "sftp");
        const sftp = rawSftp(run.channel);
        sftp.send(1, 3);
        expect((await sftp.next())?.type).toBe(2);
        sftp.send(20, 5, `${probe}-nul`, "/\0junk"); // SYMLINK to "/" for a server reading C strings
        await Promise.race([run.done, sleep(5000)]);
        id = await newestSession();
      } finally {
        client.end();
      }
      expect(await exists(`${home}/${probe}-nul`)).toBe("no");
      const sftpEvents = (await eventsOf(id)).filter((e) => e.kind === "sftp").map((e) => e.payload as Rec);
      expect(sftpEvents).toContainEqual(expect.objectContaining({ op: "error", status: "malformed SFTP packet from the client" }));
    });

    it("an upstream that answers a version other than 3 is cut off before the client speaks to it", async () => {
      // An sshd whose every session is a server answering VERSION 6 (as one speaking 6 would).
      fs.chmodSync(local, 0o755);
      const script = path.join(local, "sftp-v6.sh");
      fs.writeFileSync(script, "#!/bin/sh\nprintf '\\000\\000\\000\\005\\002\\000\\000\\000\\006'\nsleep 10\n", { mode: 0o755 });
      const v6 = await startSshd({ extraConfig: [`ForceCommand ${script}`] });
      try {
        const added = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "box-v6", type: "ssh", upstream: `ssh://127.0.0.1:${v6.port}`, username: v6.user, secret: v6.password, tags: ["staging"] });
        expect(added.status, JSON.stringify(added.body)).toBe(200);
        const r = await sftpBatch({ ...gw(), user: "box-v6" }, ["pwd"], { timeoutMs: 20_000 });
        expect(r.code).not.toBe(0);
        expect(r.stdout).not.toMatch(/Remote working directory/);
        const id = await newestSession();
        const sftpEvents = (await eventsOf(id)).filter((e) => e.kind === "sftp").map((e) => e.payload as Rec);
        expect(sftpEvents).toContainEqual(expect.objectContaining({ op: "error", status: "upstream answered SFTP version 6, not 3" }));
      } finally {
        await v6.stop();
      }
    });
  });

  /**
   * Another Gatehouse process on the same store kills a session or removes a key, and its
   * NOTIFY never reaches the process serving the session: here that other process is this test,
   * running the same services on the same database with no event-bus bridge (so nothing is sent).
   */
  describe("a kill or a key removal whose notification was lost", () => {
    let store: DbHandle;
    const callerOf = async (email: string, role: Caller["role"]): Promise<Caller> => {
      const [row] = await store.query<{ id: string }>("select id from users where email = $1", [email]);
      return { userId: row.id, email, role, groups: [], via: "session" };
    };
    /** A command that runs for 60 s; resolves with how it ended once it exits. */
    const longRunning = (t: SshTarget) => {
      const run = startSsh(t, "sleep 60; echo finished");
      return { stderr: run.stderr, exited: run.exited };
    };
    const seen = new Set<string>();
    /** The one live SSH session of `email` not seen before. */
    const newLiveSessionOf = async (email: string): Promise<string> => {
      for (let i = 0; i < 200; i++) {
        const res = await apiCall(gh.url, tokens.admin, "GET", `/sessions?protocol=ssh&status=live&user=${encodeURIComponent(email)}`);
        const live = (res.body.sessions as Rec[]).filter((x) => !seen.has(x.id));
        if (live.length === 1) {
          seen.add(live[0].id);
          return live[0].id;
        }
        await sleep(100);
      }
      throw new Error("no new live session");
    };
    const endsWithin = (exited: Promise<number | null>, ms: number) => Promise.race([exited.then(() => "ended"), sleep(ms).then(() => "still running")]);

    beforeAll(async () => {
      store = await openPostgres(storeUrl);
    });
    afterAll(async () => {
      await store?.close();
    });

    it("a session killed by another process ends though session.kill never arrived", async () => {
      const run = longRunning(gw());
      const id = await newLiveSessionOf("ops@example.test");
      await killSession(store.db, await callerOf(gh.adminEmail, "admin"), id, { reason: "lost notify" });
      expect(await endsWithin(run.exited, 10_000), "the killed session kept running").toBe("ended");
      expect(run.stderr()).toMatch(/session ended by an administrator: lost notify/);
      const session = (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${id}`)).body.session;
      expect(session).toMatchObject({ status: "killed", endReason: "session ended by an administrator: lost notify" });
    });

    it("a session that logged in with a key ends when another process removes the key, though ssh-key.removed never arrived", async () => {
      const keyFile = path.join(local, "member-key");
      execFileSync("ssh-keygen", ["-q", "-N", "", "-t", "ed25519", "-C", "member@followups", "-f", keyFile]);
      const added = await apiCall(gh.url, tokens.member, "POST", "/ssh-keys", { name: "followups", publicKey: fs.readFileSync(`${keyFile}.pub`, "utf8") });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
      const run = longRunning({ port: gh.ports.ssh, user: "box", identityFile: keyFile });
      await newLiveSessionOf("ops@example.test");
      await removeSshKey(store.db, await callerOf("ops@example.test", "member"), added.body.key.id);
      expect(await endsWithin(run.exited, 10_000), "the session of the removed key kept running").toBe("ended");
      expect(run.stderr()).toMatch(/the SSH key this session logged in with was removed/);
    });
  });

  // Last: it takes the store down. Nothing can be checked then, so nobody gets in; but `ssh`
  // says why (the PostgreSQL gateway answers 57P03 the same way) instead of "Permission denied".
  describe("Gatehouse's database unavailable", () => {
    it("ssh and sftp clients are told the database is unreachable, by password, keyboard-interactive and key; then log in again", async () => {
      const keyFile = path.join(local, "outage-key");
      execFileSync("ssh-keygen", ["-q", "-N", "", "-t", "ed25519", "-C", "outage@followups", "-f", keyFile]);
      expect((await apiCall(gh.url, tokens.member, "POST", "/ssh-keys", { name: "outage", publicKey: fs.readFileSync(`${keyFile}.pub`, "utf8") })).status).toBe(200);
      const byKey: SshTarget = { port: gh.ports.ssh, user: "box", identityFile: keyFile };
      const byKeyboard: SshTarget = { ...gw(), passwordMethod: "keyboard-interactive" };
      await pg.down();
      try {
        for (const [how, attempt] of [
          ["password", () => sshExec(gw(), "echo in")],
          ["keyboard-interactive", () => sshExec(byKeyboard, "echo in")],
          ["key", () => sshExec(byKey, "echo in")],
          ["sftp", () => sftpBatch(gw(), ["pwd"])],
        ] as const) {
          const r = await attempt();
          expect(r.code, how).not.toBe(0);
          expect(r.stdout, how).not.toMatch(/in|Remote working directory/);
          expect(r.stderr, how).toMatch(/Gatehouse cannot reach its database; try again shortly/);
          expect(r.stderr, how).not.toMatch(/Permission denied/);
        }
      } finally {
        await pg.up();
      }
      await expect.poll(async () => (await sshExec(gw(), "echo in")).stdout, { timeout: 60_000, interval: 1000 }).toBe("in\n");
      // Each login method is its own path to the store (key lookup, then the owner): each must
      // come back, not only the first. Polled too: under CI load one attempt can fail to connect.
      await expect
        .poll(async () => {
          const r = await sshExec(byKey, "echo in");
          if (r.stdout !== "in\n") console.warn(`[ssh-followups] key login after the outage failed: ${r.stderr}`);
          return r.stdout;
        }, { timeout: 30_000, interval: 1000 })
        .toBe("in\n");
    });

    it("a database that hangs (connections open, nothing answered) is told the same within GATEHOUSE_SSH_STORE_TIMEOUT_MS, not cut off silently", async () => {
      await expect.poll(async () => (await sshExec(gw(), "echo in")).stdout, { timeout: 60_000, interval: 1000 }).toBe("in\n");
      const thaw = freezePostgres(pg.port);
      try {
        const started = Date.now();
        const r = await sshExec(gw(), "echo in", { timeoutMs: 40_000 });
        expect(r.stderr).toMatch(/Gatehouse cannot reach its database; try again shortly/);
        expect(Date.now() - started).toBeLessThan(20_000);
      } finally {
        thaw();
      }
      await expect.poll(async () => (await sshExec(gw(), "echo in")).stdout, { timeout: 60_000, interval: 1000 }).toBe("in\n");
    }, 120_000);
  });
});
