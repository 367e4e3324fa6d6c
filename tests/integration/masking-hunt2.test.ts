import fs from "node:fs";
import { spawn } from "node:child_process";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser } from "../support/api-fixture";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { sshCommand, sshExec, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { startTmux } from "../support/tmux";
import { chunked, printf } from "../support/shell-printf";

/**
 * Masking, round 2, through a real Gatehouse in front of a real sshd (OpenSSH ssh) and a real
 * PostgreSQL 15 (psql): values split by escape sequences other than CSI (OSC titles, DCS strings,
 * 8-bit CSI, charset designations) and by chunk boundaries inside them; digits joined by '_',
 * '|', '/'; look-alike digits and separators the fold table missed; and commands that re-encode
 * their output (rev, base64, xxd…), refused where masking applies and run where it does not;
 * and a value a program wraps at the terminal's width, seen through a real terminal (tmux).
 * Each case failed before its fix.
 *
 * Rule set "det" (every detector, redact) masks reads and exec on the connections tagged
 * "masked"; the connection tagged "plain" is not masked.
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("read-detected")
@mask("det")
permit (principal, action == Gatehouse::Action::"read", resource);

@id("exec-masked")
@mask("det")
permit (principal, action == Gatehouse::Action::"exec", resource)
when { resource.tags.contains("masked") };

@id("exec-plain")
permit (principal, action == Gatehouse::Action::"exec", resource)
when { resource.tags.contains("plain") };
`;

const MEMBER = "mask-hunt2@example.test";
const CARD = "4111 1111 1111 1111";


describe("masking hunt, round 2", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let sshd: Sshd;
  let admin = "";
  let token = "";
  const target = (connection = "box"): SshTarget => ({ port: gh.ports.ssh, user: connection, password: token });

  function psql(sql: string): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const p = spawn("psql", [`host=127.0.0.1 port=${gh.ports.postgres} dbname=db user=${MEMBER} sslmode=disable`, "-X", "-A", "-t", "-c", sql], {
        env: { ...process.env, PGPASSWORD: token, PGCONNECT_TIMEOUT: "10", PGCLIENTENCODING: "UTF8" },
      });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
      p.on("close", (code) => resolve({ code, out }));
      p.stdin.on("error", () => {}); // psql -c may exit before its stdin closes
      p.stdin.end();
    });
  }

  /** The recorded events of the member's newest session, once `done` holds for them. */
  async function recorded(done: (events: string) => boolean): Promise<string> {
    let events = "";
    for (let i = 0; i < 50; i++) {
      const [newest] = (await apiCall(gh.url, admin, "GET", "/sessions?limit=1")).body.sessions as { id: string }[];
      events = JSON.stringify((await apiCall(gh.url, admin, "GET", `/sessions/${newest.id}/events`)).body);
      if (done(events)) return events;
      await new Promise((r) => setTimeout(r, 200));
    }
    return events;
  }

  beforeAll(async () => {
    [gh, pg15, sshd] = await Promise.all([startGatehouse({ demo: false, env: { GATEHOUSE_SSH_MASK_IDLE_MS: "1000" } }), startPostgres15(), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, MEMBER);
    for (const [name, tag] of [["box", "masked"], ["plainbox", "plain"]]) {
      const r = await apiCall(gh.url, admin, "POST", "/connections", { name, type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username: sshd.user, secret: sshd.password, tags: [tag] });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const db = await apiCall(gh.url, admin, "POST", "/connections", { name: "db", type: "postgres", upstream: `postgres://127.0.0.1:${pg15.port}/postgres`, username: "postgres", secret: "gatehouse-test", tags: ["masked"] });
    expect(db.status, JSON.stringify(db.body)).toBe(200);
    const rule = await apiCall(gh.url, admin, "POST", "/masking", { name: "all-detectors", ruleSet: "det", detectors: ["email", "phone", "ssn", "card", "iban", "ipv4", "ipv6", "jwt", "aws-key", "github-token", "slack-token", "stripe-key", "google-api-key", "private-key"], style: "redact" });
    expect(rule.status, JSON.stringify(rule.body)).toBe(200);
    const put = await apiCall(gh.url, admin, "PUT", "/policies", { text: POLICIES, comment: "masking hunt 2" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe("create table notes (id int primary key, body text)");
    const bodies = ["4111_1111_1111_1111", "4111|1111|1111|1111", "ssn 123_45_6789", "\u2779\u2776\u2776\u2776 \u2776\u2776\u2776\u2776 \u2776\u2776\u2776\u2776 \u2776\u2776\u2776\u2776", "4111\u30fb1111\u30fb1111\u30fb1111"];
    for (const [i, b] of bodies.entries()) await direct`insert into notes values (${i + 1}, ${b})`;
    await direct.end();
  }, 180_000);

  afterAll(async () => {
    await gh?.stop();
    await pg15?.stop();
    await sshd?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  // Sequences in one write, except where the chunk boundary inside the sequence is the point
  // (printed 5 ms apart, well under the 30 ms idle flush, as masking-detector-hunt does).
  it.each([
    ["an OSC title between two digits", ["card 4111\x1b]0;x\x071111 1111 1111 end\n"]],
    ["a hyperlink (OSC 8, ST) between two groups", ["card 4111 \x1b]8;;http://x/\x1b\\1111 1111 1111 end\n"]],
    ["a DCS string, the chunk ending inside it", ["card 4111 \x1bP1;2|", "x\x1b\\1111 1111 1111 end\n"]],
    ["an 8-bit CSI (U+009B)", ["card 4111 \u009b1m1111 1111 1111 end\n"]],
    ["a charset designation", ["card 4111 \x1b(B1111 1111 1111 end\n"]],
    ["a colour before the @, the chunk ending inside it", ["mail alice\x1b[1", "m@example.com end\n"]],
  ])("ssh: a value split by %s is masked", async (_what, chunks) => {
    const r = await sshExec(target(), chunked(chunks));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^(card|mail) \[REDACTED:(card|email)\] end\n$/);
  });

  it.each([
    ["digits joined by '_'", "4111_1111_1111_1111", "[REDACTED:card]"],
    ["digits joined by '|'", "4111|1111|1111|1111", "[REDACTED:card]"],
    ["an SSN joined by '_'", "123_45_6789", "[REDACTED:ssn]"],
    ["a card in dingbat digits", "\u2779\u2776\u2776\u2776 \u2776\u2776\u2776\u2776 \u2776\u2776\u2776\u2776 \u2776\u2776\u2776\u2776", "[REDACTED:card]"],
    ["a card in parenthesized digits", "\u2477\u2474\u2474\u2474 \u2474\u2474\u2474\u2474 \u2474\u2474\u2474\u2474 \u2474\u2474\u2474\u2474", "[REDACTED:card]"],
    ["a card grouped by katakana middle dots", "4111\u30fb1111\u30fb1111\u30fb1111", "[REDACTED:card]"],
    ["a phone grouped by katakana long vowel marks", "090\u30fc1234\u30fc5678", "[REDACTED:phone]"],
  ])("ssh: %s is masked", async (_what, value, masked) => {
    // one write: chunk boundaries are the unit tests' (a pause longer than the idle flush releases held text by design)
    const r = await sshExec(target(), printf(`v ${value} ok\n`));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`v ${masked} ok\n`);
  });

  it("psql: the new separators and look-alikes are masked in a plain column", async () => {
    const r = await psql("select body from notes order by id");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toBe("[REDACTED:card]\n[REDACTED:card]\nssn [REDACTED:ssn]\n[REDACTED:card]\n[REDACTED:card]\n");
  });

  it.each([
    [`${printf(`${CARD}\n`)} | rev`],
    [`${printf(`${CARD}\n`)} | base64`],
    [`${printf(`${CARD}\n`)} | xxd`],
    [`${printf(`${CARD}\n`)} | tr 0-9 a-j`],
    [`sh -c "${printf(`${CARD}\n`)} | fold -w 1"`],
  ])("ssh: an output transform is refused where masking applies: %s", async (command) => {
    const r = await sshExec(target(), command);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/denied: masking applies to you here, and what this returns cannot be masked \(the command re-encodes or cuts up its output/);
    expect(r.stdout).toBe("");
    const events = await recorded((e) => e.includes("cannot be masked"));
    expect(events).toMatch(/"verdict":"deny"/);
    expect(events).toContain("cannot be masked");
  });

  it("ssh: the same transform runs where nothing is masked, and a plain read is masked", async () => {
    const plain = await sshExec(target("plainbox"), `${printf(`${CARD}\n`)} | rev`);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toBe("1111 1111 1111 1114\n");
    const read = await sshExec(target(), `${printf(`${CARD}\n`)} | cat`);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toBe("[REDACTED:card]\n");
  });

  it("ssh -tt in a 40-column terminal: a card wrapped by the program at the terminal's width is masked", async () => {
    // what `fold -w $COLUMNS` (or psql's wrapped format) prints: a line break exactly at column 40
    const line = "order 1234 paid by card 4111 1111 1111 1111 on the 3rd of May";
    const rows = line.match(/.{1,40}/g)!;
    expect(rows).toEqual(["order 1234 paid by card 4111 1111 1111 1", "111 on the 3rd of May"]);
    const cmd = sshCommand(target(), [`${printf(`${rows.join("\n")}\n`)}; sleep 1`], ["-tt"]);
    const tmux = await startTmux(cmd.argv, { cols: 40, rows: 10, env: cmd.env });
    try {
      const screen = await tmux.waitFor("on the 3rd", 15_000);
      expect(screen).toContain("order 1234 paid by card [REDACTED:card]");
      expect(screen).toContain("on the 3rd of May");
      expect(screen).not.toMatch(/4111|1111/);
    } finally {
      await tmux.kill();
      cmd.cleanup();
    }
  });
});
