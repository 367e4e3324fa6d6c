import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { COMMON_OPTIONS, authOptions, scp, sftpBatch, spawnClient, ssh2Connect, ssh2Subsystem, sshExec, startSsh, type SshTarget } from "../support/ssh-client";
import { stopClient, tcpTarget } from "../support/ssh-forward";
import { freePort } from "../support/ports";
import { startSshd, type Sshd } from "../support/sshd";
import { addApprover, addConnection, addUser, ofKind, pendingApproval as waitForApproval, type Rec, sessionsOf, sshUpstream } from "../support/api-fixture";

/**
 * Exec lines that the classifier took for a read (or a mere write) while the shell upstream runs
 * a program of the caller's choosing with them: under the default policies a member's `unknown`
 * command waits for an approver, so each of these ran with nobody asked. Every line is first run
 * against the sshd directly, which proves its payload (creating a marker file) really runs; then
 * through Gatehouse it must be held, and once the approver denies it, nothing has run.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SSH exec lines that run more than the classifier saw", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const tokens = { admin: "", member: "", approver: "" };
  const dir = `/tmp/gh-ssh-hunt-${process.pid}`;
  let n = 0;

  const gw = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: tokens.member });
  const direct = (): SshTarget => ({ port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath });

  const pendingApproval = (text: string | RegExp, give: () => boolean) => waitForApproval(gh, tokens.approver, text, { give });
  const { ids: sessionIds, opened: newSession, recorded } = sessionsOf(() => gh, () => tokens.admin, "ssh");

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
    tokens.member = await addUser(gh, tokens.admin, "ops@example.test");
    tokens.approver = await addApprover(gh, tokens.admin);
    await addConnection(gh, tokens.admin, "box", { ...sshUpstream(sshd), tags: ["staging"] });
    await addConnection(gh, tokens.admin, "box-prod", { ...sshUpstream(sshd), tags: ["prod"] });
    // A scratch dir the upstream login user owns.
    const setup = await sshExec(direct(), `mkdir -p ${dir} && cp /bin/sh ${dir}/cat && echo ok`);
    expect(setup.stdout, setup.stderr).toBe("ok\n");
  }, 120_000);

  afterAll(async () => {
    await teardown(gh, sshd);
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
    ["install --strip-program runs the file it installs", (m) => `printf 'touch ${m}' > ${m}.sh; install -s --strip-program=sh ${m}.sh ${m}.out`],
    ["rsync -e runs its remote shell locally", (m) => `rsync -e 'sh -c "touch ${m}"' x:/ ${m}.dst`],
    ["git clone --upload-pack runs a shell command", (m) => `git clone -q --upload-pack='touch ${m}; false' file:///nonexistent ${m}.git`],
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

  // A member's writes on a staging connection run without approval, but not those that land where
  // the host runs code later or decides who logs in: ~/.ssh (authorized_keys is a door around
  // Gatehouse), startup files, git hooks. They are admin, held by default.
  it("writes into ~/.ssh are held as admin (exec, sh -c, sftp put; the other persistence paths in unit tests); denied, nothing is written", async () => {
    const home = (await sshExec(direct(), "echo $HOME")).stdout.trim();
    const probe = `.ssh/gh-hunt-probe-${process.pid}`;
    const local = `${dir}-key.pub`;
    fs.writeFileSync(local, "ssh-ed25519 AAAAC3Nza probe\n");
    const exists = async (p: string) => (await sshExec(direct(), `test -e ${home}/${p} && echo yes || echo no`)).stdout.trim();
    try {
      for (const line of [`echo ssh-ed25519 AAAA probe >> ~/${probe}`, `cp /etc/hostname ${probe}`, `sh -c 'echo x > ~/${probe}'`]) {
        const r = await throughGateway(line);
        expect(r.outcome, `${line} ran without approval: ${r.stderr}`).toBe("held");
        expect(r.approval!.request.kind).toBe("admin");
        expect(await exists(probe), line).toBe("no");
      }
      let done = false;
      const put = sftpBatch(gw(), [`put ${local} ${probe}`]).then((r) => ((done = true), r));
      const approval = await pendingApproval(new RegExp(`^sftp write (.*/)?${probe.replace(/[.]/g, "\\.")}$`), () => done);
      expect(approval, "sftp put into ~/.ssh ran without approval").not.toBe(null);
      expect(approval!.request.kind).toBe("admin");
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "bypass hunt" })).status).toBe(200);
      expect((await put).code).not.toBe(0);
      expect(await exists(probe)).toBe("no");
      // An ordinary file in the home directory is still a plain write.
      const plain = await sftpBatch(gw(), [`put ${local} gh-hunt-plain-${process.pid}.pub`, `rm gh-hunt-plain-${process.pid}.pub`]);
      expect(plain.code, plain.stderr).toBe(0);
    } finally {
      fs.rmSync(local, { force: true });
      await sshExec(direct(), `rm -f ${home}/${probe}`);
    }
  });

  // Forwarding is refused by default; bash's /dev/tcp makes the same connection from the upstream
  // host inside a "read".
  it("a redirection from /dev/tcp reaches no service without approval (it is a forward by another name)", async () => {
    const target = await tcpTarget();
    try {
      const line = `cat < /dev/tcp/127.0.0.1/${target.port}`;
      const control = await sshExec(direct(), line);
      expect(control.stdout).toBe("TARGET-HELLO\n");
      expect(target.connections()).toBe(1);
      const r = await throughGateway(line);
      expect(r.outcome, `${line} ran without approval: ${r.stderr}`).toBe("held");
      expect(r.code).toBe(126);
      expect(target.connections()).toBe(1);
    } finally {
      await target.close();
    }
  });

  // An agent's reads are masked, and SFTP file contents cannot be (the open is refused). OpenSSH's
  // sftp-server opens a file read-only when the open asks for neither READ nor WRITE: CREAT (or
  // APPEND, TRUNC) alone gave a readable handle, decided as a write, so nothing was masked.
  it("an agent's SFTP open without READ or WRITE (CREAT alone) is refused like a read: no unmasked bytes", async () => {
    const file = `${dir}/customers.txt`;
    expect((await sshExec(direct(), `echo 'alice.smith@example.com' > ${file} && echo ok`)).stdout).toBe("ok\n");
    const agent = (await exchangeToken(gh.url, tokens.member, "hunt-agent")).access_token;
    const client = await ssh2Connect({ port: gh.ports.ssh, user: "box", password: agent });
    try {
      const sftp = await new Promise<any>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
      const open = (flags: string | number) => new Promise<Buffer | Error>((resolve) =>
        sftp.open(file, flags, (err: Error | undefined, handle: Buffer) => {
          if (err) return resolve(err);
          const buf = Buffer.alloc(4096);
          sftp.read(handle, buf, 0, buf.length, 0, (e: Error | undefined, n: number) => sftp.close(handle, () => resolve(e ?? buf.subarray(0, n))));
        }),
      );
      const plain = await open("r");
      expect(plain).toBeInstanceOf(Error); // the ordinary read: refused, masking applies
      for (const flags of [0x08, 0x04, 0x0c]) {
        const got = await open(flags); // CREAT, APPEND, both: no READ bit, no WRITE bit
        expect(got instanceof Error ? got.message : `read ${JSON.stringify(got.toString())}`, `flags ${flags}`).toMatch(/denied|masking/i);
      }
      const w = await open("a"); // append for writing: still allowed (a write), not readable
      expect(w).toBeInstanceOf(Error);
      expect((w as Error).message).not.toMatch(/denied/);
    } finally {
      client.end();
    }
    expect(fs.readFileSync(file, "utf8")).toBe("alice.smith@example.com\n");
  });

  // While an SFTP request waits for an approver, the packets after it wait in the gateway's memory.
  // The client must then be made to wait (its SSH window left closed), or one client with a held
  // write can pour any amount into the gateway, which serves everyone.
  it("SFTP packets queued behind a held request stop being read: the client's window closes", async () => {
    const packet = (type: number, id: number, ...fields: Buffer[]) => {
      const body = Buffer.concat([Buffer.from([type]), u32(id), ...fields]);
      return Buffer.concat([u32(body.length), body]);
    };
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const str = (v: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(v)), Buffer.from(v)]);
    const file = `${dir}/held-flood.txt`;
    const client = await ssh2Connect({ port: gh.ports.ssh, user: "box-prod", password: tokens.member });
    try {
      const run = await ssh2Subsystem(client, "sftp");
      const ch = run.channel;
      ch.on("data", () => {}); // replies are not the point
      ch.write(Buffer.concat([u32(5), Buffer.from([1]), u32(3)])); // INIT v3
      ch.write(packet(3, 1, str(file), u32(0x02 | 0x08 | 0x10), u32(0))); // OPEN write|creat|trunc: held on prod
      expect(await pendingApproval(`sftp write ${file}`, () => false)).toBeTruthy();
      const junk = packet(6, 2, str("no-such-handle"), Buffer.alloc(8), str(Buffer.alloc(256 * 1024))); // WRITE to a handle that does not exist
      let accepted = 0;
      const limit = 64 << 20;
      while (accepted < limit) {
        accepted += junk.length;
        if (!ch.write(junk)) {
          const drained = await Promise.race([new Promise((r) => ch.once("drain", () => r(true))), sleep(3000).then(() => false)]);
          if (!drained) break;
        }
      }
      expect(accepted, `the gateway read ${accepted >> 20} MiB from a client whose first request waits for approval`).toBeLessThan(24 << 20);
      const approval = await pendingApproval(`sftp write ${file}`, () => false);
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "bypass hunt" })).status).toBe(200);
      ch.end();
    } finally {
      client.end();
    }
    expect(fs.existsSync(file)).toBe(false);
    const alive = await sshExec(gw(), "echo alive");
    expect(alive.stdout).toBe("alive\n");
  });

  // The exec line is classified on the gateway's one event loop: a line that makes the classifier
  // slow stalls every session, console and listener at once.
  it("a hostile 12 KB exec line does not stall the gateway for other users", async () => {
    const evil = startSsh(gw(), `echo ${"${:".repeat(4000)}`);
    try {
      await sleep(1000);
      const other = await sshExec(gw(), "echo alive", { timeoutMs: 20_000 });
      expect(other.stdout, other.stderr).toBe("alive\n");
    } finally {
      await stopClient(evil.child);
    }
  });

  // Every SFTP request that changes the file system, sent by the real sftp/scp clients, on a prod
  // connection (every write waits for an approver): held, and once denied, nothing changed upstream.
  it("sftp rename (posix-rename), ln (hardlink), ln -s, chmod, mkdir, rmdir, rm, put and scp -O on prod are each held; denied, nothing changes", async () => {
    const box = `${dir}/prod-fs`;
    expect((await sshExec(direct(), `mkdir -p ${box}/sub && echo data > ${box}/a.txt && chmod 644 ${box}/a.txt && echo ok`)).stdout).toBe("ok\n");
    const local = `${dir}-local.txt`;
    fs.writeFileSync(local, "local\n");
    const prod: SshTarget = { port: gh.ports.ssh, user: "box-prod", password: tokens.member };
    const snapshot = async () => (await sshExec(direct(), `cd ${box} && find . -printf '%p %m %s\\n' | sort`)).stdout;
    const before = await snapshot();
    const ops: [string, RegExp, () => Promise<{ code: number | null; stderr: string }>][] = [
      ["rename", /^sftp rename /, () => sftpBatch(prod, [`rename ${box}/a.txt ${box}/b.txt`])],
      ["hardlink", /^sftp hardlink /, () => sftpBatch(prod, [`ln ${box}/a.txt ${box}/hard.txt`])],
      ["symlink", /^sftp symlink /, () => sftpBatch(prod, [`ln -s ${box}/a.txt ${box}/sym.txt`])],
      ["setstat", /^sftp setstat /, () => sftpBatch(prod, [`chmod 600 ${box}/a.txt`])],
      ["mkdir", /^sftp mkdir /, () => sftpBatch(prod, [`mkdir ${box}/new`])],
      ["rmdir", /^sftp rmdir /, () => sftpBatch(prod, [`rmdir ${box}/sub`])],
      ["remove", /^sftp remove /, () => sftpBatch(prod, [`rm ${box}/a.txt`])],
      ["put", /^sftp write /, () => sftpBatch(prod, [`put ${local} ${box}/a.txt`])],
      ["scp -O", /^scp .*-t/, () => scp(prod, local, `:${box}/a.txt`, { legacy: true })],
    ];
    try {
      for (const [what, text, run] of ops) {
        let done = false;
        const result = run().then((r) => ((done = true), r));
        const approval = await pendingApproval(text, () => done);
        expect(approval, `${what} ran without approval`).not.toBe(null);
        const denied = await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "bypass hunt" });
        expect(denied.status, JSON.stringify(denied.body)).toBe(200);
        expect((await result).code, what).not.toBe(0);
        expect(await snapshot(), what).toBe(before);
      }
    } finally {
      fs.rmSync(local, { force: true });
    }
  });

  it("auth: none, a 30 KB user name, a wrong connection are refused, and a client is cut off after six password tries; the gateway keeps serving", async () => {
    const attempt = (extra: Record<string, unknown>) => ssh2Connect({ port: gh.ports.ssh, user: "box", password: tokens.member }, extra as never).then((c) => (c.end(), "accepted"), (e: Error) => e.message);
    expect(await attempt({ password: undefined, authHandler: ["none"] })).toMatch(/authentication methods failed/);
    expect(await attempt({ username: "b".repeat(30_000) })).toMatch(/authentication methods failed|Connection lost|ECONNRESET|closed/i);
    expect(await attempt({ username: "no-such-connection" })).toMatch(/authentication methods failed/);
    // twenty password tries offered on one connection: the gateway hangs up after six
    let tries = 0;
    const ssh2 = await import("ssh2");
    const outcome = await new Promise<string>((resolve) => {
      const c = new ssh2.default.Client();
      c.on("ready", () => (c.end(), resolve("accepted")));
      c.on("error", (e) => resolve(`error: ${e.message}`));
      c.on("close", () => resolve("closed"));
      c.connect({
        host: "127.0.0.1",
        port: gh.ports.ssh,
        username: "box",
        readyTimeout: 30_000,
        authHandler: (_methods, _partial, next) => (++tries <= 20 ? next({ type: "password", username: "box", password: `wrong-${tries}` }) : next(false as never)),
      });
    });
    expect(outcome).not.toBe("accepted");
    expect(tries, outcome).toBeLessThanOrEqual(8);
    const alive = await sshExec(gw(), "echo alive");
    expect(alive.stdout).toBe("alive\n");
  });

  // The connection outlives its SFTP channel (ControlMaster, sftp then ssh): a request held on a
  // channel the client closed must be given up with it, not wait for an approver to say yes.
  it("closing an SFTP channel whose write is held cancels the hold; the connection stays usable", async () => {
    const file = `${dir}/held-then-closed.txt`;
    const client = await ssh2Connect({ port: gh.ports.ssh, user: "box-prod", password: tokens.member });
    try {
      const run = await ssh2Subsystem(client, "sftp");
      const ch = run.channel;
      ch.on("data", () => {});
      const u32 = (n: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n);
        return b;
      };
      const body = Buffer.concat([Buffer.from([3]), u32(1), u32(Buffer.byteLength(file)), Buffer.from(file), u32(0x02 | 0x08), u32(0)]);
      ch.write(Buffer.concat([u32(5), Buffer.from([1]), u32(3)]));
      ch.write(Buffer.concat([u32(body.length), body])); // OPEN write|creat: held on prod
      const approval = await pendingApproval(`sftp write ${file}`, () => false);
      ch.close();
      await run.done;
      let status = "pending";
      for (let i = 0; i < 100 && status === "pending"; i++) {
        await sleep(100);
        status = (await apiCall(gh.url, tokens.admin, "GET", `/approvals/${approval!.id}`)).body.approval?.status ?? "?";
      }
      expect(status).toBe("cancelled");
      const after = await new Promise<string>((resolve, reject) =>
        client.exec("echo still-here", (err, c) => {
          if (err) return reject(err);
          let out = "";
          c.on("data", (d: Buffer) => (out += d));
          c.on("close", () => resolve(out));
        }),
      );
      expect(after).toBe("still-here\n");
    } finally {
      client.end();
    }
    expect(fs.existsSync(file)).toBe(false);
  });

  // On prod every write waits for an approver. rsync pulling a file runs `rsync --server --sender`
  // upstream, a read; with --remove-source-files that sender deletes the file once sent.
  it("rsync --remove-source-files from a prod connection is a write: held, and the file stays until approved", async () => {
    const file = `${dir}/prod-report.txt`;
    expect((await sshExec(direct(), `echo quarterly > ${file} && echo ok`)).stdout).toBe("ok\n");
    const local = fs.mkdtempSync("/tmp/gh-ssh-hunt-local-");
    try {
      const rsh = `sshpass -e ssh -p ${gh.ports.ssh} -F none -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o PreferredAuthentications=password -o PubkeyAuthentication=no`;
      const child = spawn("rsync", ["-e", rsh, "--remove-source-files", `box-prod@127.0.0.1:${file}`, `${local}/`], { env: { ...process.env, SSHPASS: tokens.member }, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      child.stdout!.resume();
      let exited = false;
      const code = new Promise<number | null>((r) => child.once("close", (c) => ((exited = true), r(c))));
      const approval = await pendingApproval(/^rsync --server --sender .*--remove-source-files/, () => exited);
      expect(approval, `rsync ran without approval: ${stderr}`).not.toBe(null);
      expect(approval!.request.kind).toBe("write");
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "bypass hunt" })).status).toBe(200);
      expect(await code).not.toBe(0);
      expect(stderr).toMatch(/held for approval/);
      expect(fs.readFileSync(file, "utf8")).toBe("quarterly\n");
      expect(fs.existsSync(`${local}/prod-report.txt`)).toBe(false);
    } finally {
      fs.rmSync(local, { recursive: true, force: true });
    }
  });

  /** OpenSSH client options without the suite's "no multiplexing" pair, so ControlPath can be set. */
  const unmuxed = () => {
    const out: string[] = [];
    for (let i = 0; i < COMMON_OPTIONS.length; i += 2) if (!/^Control(Master|Path)=/.test(COMMON_OPTIONS[i + 1])) out.push(COMMON_OPTIONS[i], COMMON_OPTIONS[i + 1]);
    return out;
  };

  // ssh -M / ControlMaster: one authenticated connection, later `ssh` commands open session
  // channels on it without logging in again. Each must be decided on its own.
  it("ControlMaster: a command sent through the mux of an allowed connection is decided on its own (held, denied, not run)", async () => {
    const sock = `${dir}/mux.sock`;
    const marker = `${dir}/mux-marker`;
    const known = await sessionIds();
    const master = spawnClient("ssh", ["-p", String(gh.ports.ssh), ...unmuxed(), ...authOptions(gw()), "-o", "ControlMaster=yes", "-o", `ControlPath=${sock}`, "-N", "box@127.0.0.1"], gw());
    try {
      for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await sleep(50);
      expect(fs.existsSync(sock), "the master never listened").toBe(true);
      const id = await newSession(known);
      const viaMux = (line: string) => {
        const args = ["-p", String(gh.ports.ssh), ...unmuxed(), "-o", "ControlMaster=no", "-o", `ControlPath=${sock}`, "-o", "BatchMode=yes", "-T", "box@127.0.0.1", "--", line];
        return spawnClient("ssh", args, { port: gh.ports.ssh, user: "box", identityFile: "unused" }); // no login: the master's connection
      };
      const run = (line: string) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const c = viaMux(line);
          let out = "";
          let err = "";
          c.stdout!.on("data", (d) => (out += d));
          c.stderr!.on("data", (d) => (err += d));
          c.stdin!.end();
          c.once("close", (code) => resolve({ code, out, err }));
        });
      const first = await run("echo via-mux");
      expect(first, JSON.stringify(first)).toMatchObject({ code: 0, out: "via-mux\n" });

      const line = `eval touch ${marker}`;
      let done = false;
      const second = run(line).then((r) => ((done = true), r));
      const approval = await pendingApproval(line, () => done);
      expect(approval, "the muxed command ran without approval").not.toBe(null);
      await sleep(300);
      expect(fs.existsSync(marker)).toBe(false);
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "bypass hunt" })).status).toBe(200);
      const r = await second;
      expect(r.code).toBe(126);
      expect(fs.existsSync(marker)).toBe(false);

      // one connection, one session: both commands are in its recording, decided one by one
      const events = await recorded(id, (ev) => ofKind(ev, "request").length >= 2);
      expect(ofKind(events, "request").map((p) => [p.text, p.verdict])).toEqual([["echo via-mux", "allow"], [line, "hold"]]);
      expect(await sessionIds()).toEqual(new Set([...known, id]));
    } finally {
      await stopClient(master);
    }
  });

  it("a held exec whose client went away never runs, even when approved afterwards", async () => {
    const marker = `${dir}/gone-marker`;
    const line = `eval touch ${marker}`;
    const run = startSsh(gw(), line);
    const approval = await pendingApproval(line, () => false);
    await stopClient(run.child);
    await sleep(500);
    const res = await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/approve`, {});
    expect(res.status).not.toBe(500);
    await sleep(1500);
    expect(fs.existsSync(marker)).toBe(false);
  });

  // ssh -R /path:host:port asks for a remote unix-socket listener (streamlocal-forward@openssh.com).
  it("-R onto a unix socket upstream is refused, and the refusal is recorded", async () => {
    const remoteSock = `${dir}/remote-fwd.sock`;
    const known = await sessionIds();
    const options = unmuxed().concat(["-o", "ControlMaster=no", "-o", "ControlPath=none"]).map((o) => (o === "LogLevel=ERROR" ? "LogLevel=INFO" : o));
    const child = spawnClient("ssh", ["-p", String(gh.ports.ssh), ...options, ...authOptions(gw()), "-N", "-o", "ExitOnForwardFailure=yes", "-R", `${remoteSock}:127.0.0.1:9`, "box@127.0.0.1"], gw());
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const code = await Promise.race([new Promise<number | null>((r) => child.once("close", r)), sleep(20_000).then(() => "timeout" as const)]);
    await stopClient(child);
    expect(code, stderr).not.toBe("timeout");
    expect(stderr).toMatch(/remote port forwarding failed/i);
    expect(fs.existsSync(remoteSock)).toBe(false);
    const events = await recorded(await newSession(known), (ev) => ofKind(ev, "forward").length > 0);
    expect(ofKind(events, "forward")).toEqual([expect.objectContaining({ type: "remote", target: `unix socket ${remoteSock}`, allowed: false })]);
  });

  // ssh -L PORT:/path asks the upstream host to connect to a unix socket (direct-streamlocal@openssh.com).
  it("-L onto a unix socket upstream never reaches it; the refusal is recorded", async () => {
    const path = `${dir}/service.sock`;
    let reached = 0;
    const service = net.createServer((c) => (reached++, c.end("SOCKET-HELLO\n")));
    await new Promise<void>((r) => service.listen(path, r));
    fs.chmodSync(path, 0o777); // sshd connects as the login user
    const through = async (t: SshTarget) => {
      const local = await freePort();
      const child = spawnClient("ssh", ["-p", String(t.port), ...unmuxed(), "-o", "ControlMaster=no", "-o", "ControlPath=none", ...authOptions(t), "-N", "-L", `127.0.0.1:${local}:${path}`, `${t.user}@127.0.0.1`], t);
      try {
        for (let i = 0; i < 150; i++) {
          const got = await new Promise<string | null>((resolve) => {
            const sock = net.connect(local, "127.0.0.1");
            let data = "";
            sock.on("data", (d) => (data += d));
            sock.once("error", () => resolve(null));
            sock.once("close", () => resolve(data));
          });
          if (got !== null) return got;
          await sleep(100);
        }
        throw new Error("ssh -L never listened");
      } finally {
        await stopClient(child);
      }
    };
    try {
      expect(await through(direct())).toBe("SOCKET-HELLO\n");
      expect(reached).toBe(1);
      const known = await sessionIds();
      expect(await through(gw())).toBe("");
      expect(reached).toBe(1);
      const events = await recorded(await newSession(known), (ev) => ofKind(ev, "forward").length > 0);
      expect(ofKind(events, "forward")).toEqual([expect.objectContaining({ type: "local", target: `unix socket ${path}`, allowed: false })]);
    } finally {
      await new Promise((r) => service.close(r));
    }
  });

  // A policy may hold `connect` itself. A client that gives up while it waits must take its hold
  // with it: an approval given later would otherwise connect to the upstream host for nobody, and
  // the session would stay "live" in the console for ever.
  it("a client that leaves while its connect is held cancels the hold and ends its session", async () => {
    const current = (await apiCall(gh.url, tokens.admin, "GET", "/policies")).body.policy as { text: string };
    const gate = `\n@id("hunt-gated-connect")\n@hold("approvers")\npermit (principal, action == Gatehouse::Action::"connect", resource)\nwhen { resource.tags.contains("hunt-gated") };\n`;
    expect((await apiCall(gh.url, tokens.admin, "PUT", "/policies", { text: current.text + gate, comment: "gated connect" })).status).toBe(200);
    await addConnection(gh, tokens.admin, "box-gated", { ...sshUpstream(sshd), tags: ["hunt-gated"] });
    const known = await sessionIds();
    const run = startSsh({ port: gh.ports.ssh, user: "box-gated", password: tokens.member }, "echo hi");
    let approval: Rec | undefined;
    for (let i = 0; i < 200 && !approval; i++) {
      const list = await apiCall(gh.url, tokens.approver, "GET", "/approvals?status=pending");
      approval = (list.body.approvals as Rec[]).find((a) => a.request.action === "connect" && a.connectionName === "box-gated") ?? (list.body.approvals as Rec[]).find((a) => a.request.action === "connect");
      if (!approval) await sleep(50);
    }
    expect(approval, "connect was not held").toBeTruthy();
    const id = await newSession(known);
    await stopClient(run.child);
    let status = "";
    let pending = true;
    for (let i = 0; i < 100 && (pending || status === "live"); i++) {
      await sleep(100);
      const list = await apiCall(gh.url, tokens.approver, "GET", "/approvals?status=pending");
      pending = (list.body.approvals as Rec[]).some((a) => a.id === approval!.id);
      status = (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${id}`)).body.session.status;
    }
    expect(pending, "the hold outlived its client").toBe(false);
    expect(status).not.toBe("live");

    // On a terminal, Ctrl-C while `connect` is held gives the session up the same way, at once,
    // and what it would have run never runs (typed ahead, the ^C reached the command once approved).
    const marker = `/tmp/gh-connect-gave-up-${process.pid}-${Date.now()}`;
    const t: SshTarget = { port: gh.ports.ssh, user: "box-gated", password: tokens.member };
    const child = spawnClient("ssh", ["-p", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), "-tt", `${t.user}@127.0.0.1`, "--", `touch ${marker}`], t);
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d) => (out += d));
    child.stderr!.setEncoding("utf8").on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    const held = await waitForApproval(gh, tokens.approver, (a) => a.request.action === "connect" && a.id !== approval!.id);
    await expect.poll(() => out).toMatch(new RegExp(`connection held for approval #${held!.id}`));
    child.stdin!.write("\x03");
    expect(await exited).toBe(130);
    expect(out).toMatch(/gave up waiting for approval \(Ctrl-C\); nothing was run/);
    const after = await apiCall(gh.url, tokens.approver, "GET", `/approvals/${held!.id}`);
    expect(after.body.approval.status).toBe("cancelled");
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${held!.id}/approve`, {})).status).not.toBe(200);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
