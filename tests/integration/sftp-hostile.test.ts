import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, putPolicies } from "../support/api-fixture";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { rawSftp, statusOf, type RawSftp } from "../support/sftp-raw";
import { ssh2Connect, ssh2Subsystem, sshExec, type Ssh2Run, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * A hostile SFTP client through a real Gatehouse to a real OpenSSH sshd: the test writes SFTP
 * packets by hand on a subsystem channel (ssh2's client) — a zero length, a 2 GiB length, an OPEN
 * whose path runs past its packet, an OPEN for writing a path policy forbids split across channel
 * data messages and a WRITE on a handle it never got — while a well-behaved SFTP session runs
 * beside it. Each ends its channel or is refused with SSH_FXP_STATUS, nothing refused reaches the
 * host, the good session goes on, and the recording says what happened.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Rec = Record<string, any>;
const FX_PERMISSION_DENIED = 3;
const T = { INIT: 1, OPEN: 3, CLOSE: 4, WRITE: 6, REALPATH: 16, STATUS: 101, HANDLE: 102, NAME: 104 };
const PF_WRITE_CREAT_TRUNC = 0x02 | 0x08 | 0x10;

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const sshString = (s: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
const frame = (...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(body.length), body]);
};

describe("SFTP from a hostile client", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let admin = "";
  let member = "";
  const probe = `gh-sftp-hostile-${process.pid}`;
  const forbidden = `/tmp/${probe}-forbidden`;
  const good = `/tmp/${probe}-good`;

  const gw = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: member });
  const onHost = async (line: string) => (await sshExec({ port: sshd.port, user: sshd.user, identityFile: sshd.privateKeyPath }, line)).stdout.trim();

  async function newestSession(): Promise<string> {
    return ((await apiCall(gh.url, admin, "GET", "/sessions?protocol=ssh&limit=1")).body.sessions as Rec[])[0].id;
  }
  /** the session's sftp events, once it has ended */
  async function sftpEvents(id: string): Promise<Rec[]> {
    for (let i = 0; i < 100; i++) {
      if ((await apiCall(gh.url, admin, "GET", `/sessions/${id}`)).body.session.status !== "live") break;
      await sleep(100);
    }
    const events = (await apiCall(gh.url, admin, "GET", `/sessions/${id}/events`)).body.events as Rec[];
    return events.filter((e) => e.kind === "sftp").map((e) => e.payload);
  }

  /** a new connection with an sftp channel whose INIT was answered (VERSION 3) */
  async function sftpSession(): Promise<{ end(): void; run: Ssh2Run; sftp: RawSftp; id: string }> {
    const client = await ssh2Connect(gw());
    const run = await ssh2Subsystem(client, "sftp");
    const sftp = rawSftp(run.channel);
    sftp.send(T.INIT, 3);
    expect((await sftp.next())?.type).toBe(2);
    return { end: () => client.end(), run, sftp, id: await newestSession() };
  }

  /** the channel closed within 5 s (the gateway ended it) */
  const closes = (run: Ssh2Run) => Promise.race([run.done.then(() => true), sleep(5000).then(() => false)]);

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    member = await addUser(gh, admin, "ops@example.test");
    const added = await apiCall(gh.url, admin, "POST", "/connections", { name: "box", type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username: sshd.user, secret: sshd.password, tags: ["staging"] });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const current = (await apiCall(gh.url, admin, "GET", "/policies")).body.policy as { text: string };
    await putPolicies(gh, admin, `${current.text}\n@id("no-hostile-writes") @reason("not this file")\nforbid (principal, action == Gatehouse::Action::"write", resource)\nwhen { context.request.text like "*${probe}-forbidden*" };\n`, "sftp hostile");
  }, 120_000);

  afterAll(async () => {
    if (sshd) await onHost(`rm -f /tmp/${probe}* ~/.ssh/${probe}`).catch(() => {});
    await teardown(gh, sshd);
  });

  it("zero, 2 GiB and truncated packets end their channels; a split forbidden OPEN is refused; a good session beside them goes on", async () => {
    const goodOne = await sftpSession();
    try {
      // 1. a zero length, 2. a 0x7fffffff length (the header alone), 3. an OPEN whose path claims 100 bytes in a 16-byte packet
      const hostile: [string, Buffer, string][] = [
        ["zero length", u32(0), "client sent an SFTP packet of 0 bytes"],
        ["0x7fffffff", u32(0x7fffffff), "client sent an SFTP packet of 2147483647 bytes"],
        ["truncated OPEN", frame(Buffer.from([T.OPEN]), u32(5), u32(100), Buffer.from(`${forbidden}`.slice(0, 7))), "malformed SFTP packet from the client"],
      ];
      for (const [what, bytes, status] of hostile) {
        const s = await sftpSession();
        try {
          s.run.channel.write(bytes);
          expect(await closes(s.run), `${what}: the channel was not ended`).toBe(true);
        } finally {
          s.end();
        }
        const events = await sftpEvents(s.id);
        expect(events, what).toContainEqual(expect.objectContaining({ op: "error", status }));
        expect(events.filter((e) => e.op === "open"), what).toEqual([]);
      }

      // 4. OPEN for writing a forbidden path, one channel data message per few bytes, then a WRITE on a made-up handle, split too
      const s = await sftpSession();
      try {
        const open = frame(Buffer.from([T.OPEN]), u32(7), sshString(forbidden), u32(PF_WRITE_CREAT_TRUNC), u32(0));
        for (let i = 0; i < open.length; i += 3) {
          s.run.channel.write(open.subarray(i, i + 3));
          await sleep(5);
        }
        const refused = await s.sftp.next();
        expect(refused?.type).toBe(T.STATUS);
        expect(statusOf(refused!.body)).toMatchObject({ id: 7, code: FX_PERMISSION_DENIED, message: expect.stringMatching(/^gatehouse: denied/) });
        const write = frame(Buffer.from([T.WRITE]), u32(8), sshString(Buffer.from([0, 0, 0, 0])), Buffer.alloc(8), sshString("planted\n"));
        for (const piece of [write.subarray(0, 6), write.subarray(6, 20), write.subarray(20)]) {
          s.run.channel.write(piece);
          await sleep(5);
        }
        const failed = await s.sftp.next();
        expect(failed?.type).toBe(T.STATUS); // the host knows no such handle
        expect(statusOf(failed!.body).id).toBe(8);
        expect(statusOf(failed!.body).code).not.toBe(0);
      } finally {
        s.end();
      }
      expect(await onHost(`test -e ${forbidden} && echo yes || echo no`)).toBe("no");
      const events = await sftpEvents(s.id);
      expect(events).toContainEqual(expect.objectContaining({ op: "write", path: forbidden, status: expect.stringMatching(/^denied: /) }));
      expect(events.filter((e) => e.op === "error")).toEqual([]);

      // the good session, open all along, still writes and reads
      const g = goodOne.sftp;
      g.send(T.OPEN, 20, good, PF_WRITE_CREAT_TRUNC, 0);
      const handle = await g.next();
      expect(handle?.type, "the good session's OPEN was not answered with a handle").toBe(T.HANDLE);
      const h = handle!.body.subarray(8, 8 + handle!.body.readUInt32BE(4));
      g.send(T.WRITE, 21, sshString(h), Buffer.alloc(8), "still served\n");
      expect(statusOf((await g.next())!.body)).toMatchObject({ id: 21, code: 0 });
      g.send(T.CLOSE, 22, sshString(h));
      expect(statusOf((await g.next())!.body)).toMatchObject({ id: 22, code: 0 });
    } finally {
      goodOne.end();
    }
    expect(await onHost(`cat ${good}`)).toBe("still served");
    const goodEvents = await sftpEvents(goodOne.id);
    expect(goodEvents).toContainEqual(expect.objectContaining({ op: "close", path: good, bytes: 13, flags: "written" }));
    expect(goodEvents.filter((e) => e.op === "error")).toEqual([]);
  }, 60_000);

  it("a request id reused before its reply cannot pass a handle to ~/.ssh for another file's: the channel ends, the mode stays", async () => {
    const home = await onHost(`mkdir -p ~/.ssh && printf 'key\\n' > ~/.ssh/${probe} && chmod 600 ~/.ssh/${probe} && touch /tmp/${probe}-x && echo $HOME`);
    const keys = `${home}/.ssh/${probe}`;
    const s = await sftpSession();
    try {
      // OPEN 5 (read) of a file under ~/.ssh, then OPEN 5 of /tmp: before, the first handle was labelled /tmp/…-x
      s.run.channel.write(Buffer.concat([frame(Buffer.from([T.OPEN]), u32(5), sshString(keys), u32(1), u32(0)), frame(Buffer.from([T.OPEN]), u32(5), sshString(`/tmp/${probe}-x`), u32(1), u32(0))]));
      const first = await s.sftp.next(3000);
      if (first?.type === T.HANDLE) {
        await s.sftp.next(1000);
        // FSETSTAT (10) on the first handle: permissions (attrs flag 4) 0666
        const h = first.body.subarray(8, 8 + first.body.readUInt32BE(4));
        s.run.channel.write(frame(Buffer.from([10]), u32(6), sshString(h), u32(4), u32(0o666)));
        await s.sftp.next(2000);
      }
      expect(await closes(s.run), "the channel was not ended").toBe(true);
    } finally {
      s.end();
    }
    expect(await onHost(`stat -c %a ${keys}`)).toBe("600");
    expect(await sftpEvents(s.id)).toContainEqual(expect.objectContaining({ op: "error", status: "malformed SFTP packet from the client" }));
  }, 30_000);
});
