import fs from "node:fs";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addConnection, addMaskingRule, addUser, pgUpstream, putPolicies, sshUpstream, termOutput, type Rec } from "../support/api-fixture";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { gatewayConninfo, runPsql } from "../support/psql";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { sshCommand, sshExec, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { startTmux } from "../support/tmux";
import { chunked, printf } from "../support/shell-printf";

/**
 * Masking, round 3, through a real Gatehouse in front of a real sshd (OpenSSH ssh, and a real
 * terminal: tmux) and a real PostgreSQL 15 (psql): a control string holding a line break
 * between the parts of a value; values broken over lines at an arbitrary column; tab and comma
 * separators; letters written for digits. Each case failed before its fix; the ordinary output
 * next to them must stay as it was.
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

const MEMBER = "mask-hunt3@example.test";
const DETECTORS = ["email", "phone", "ssn", "card", "iban", "ipv4", "ipv6", "jwt", "aws-key", "github-token", "slack-token", "stripe-key", "google-api-key", "private-key"];


describe("masking hunt, round 3", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let sshd: Sshd;
  let admin = "";
  let token = "";
  const target = (connection = "box"): SshTarget => ({ port: gh.ports.ssh, user: connection, password: token });
  const psql = (...statements: string[]) => runPsql(gatewayConninfo(gh.ports.postgres, "db", MEMBER), token, ["-A", "-t", ...statements.flatMap((s) => ["-c", s])]);

  /** The events of the member's newest session, once `done` holds for them. */
  async function newestEvents(done: (events: Rec[]) => boolean): Promise<Rec[]> {
    let events: Rec[] = [];
    for (let i = 0; i < 50; i++) {
      const [newest] = (await apiCall(gh.url, admin, "GET", "/sessions?limit=1")).body.sessions as { id: string }[];
      events = (await apiCall(gh.url, admin, "GET", `/sessions/${newest.id}/events`)).body.events as Rec[];
      if (done(events)) return events;
      await new Promise((r) => setTimeout(r, 200));
    }
    return events;
  }

  /** `command` run through `ssh -tt` in a real terminal `cols` wide; the screen once `until` shows. */
  async function screenOf(connection: string, command: string, until: string, cols = 80): Promise<string> {
    const cmd = sshCommand(target(connection), [`${command}; sleep 1`], ["-tt"]);
    const tmux = await startTmux(cmd.argv, { cols, rows: 12, env: cmd.env });
    try {
      return await tmux.waitFor(until, 15_000);
    } finally {
      await tmux.kill();
      cmd.cleanup();
    }
  }

  beforeAll(async () => {
    [gh, pg15, sshd] = await Promise.all([startGatehouse({ demo: false, env: { GATEHOUSE_SSH_MASK_IDLE_MS: "1000" } }), startPostgres15(), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, MEMBER);
    await addConnection(gh, admin, "box", { ...sshUpstream(sshd), tags: ["masked"] });
    await addConnection(gh, admin, "plainbox", { ...sshUpstream(sshd), tags: ["plain"] });
    await addConnection(gh, admin, "db", { ...pgUpstream(pg15), tags: ["masked"] });
    await addMaskingRule(gh, admin, { name: "all-detectors", ruleSet: "det", detectors: DETECTORS, style: "redact" });
    await putPolicies(gh, admin, POLICIES, "masking hunt 3");
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe("create table notes (id int primary key, body text)");
    await direct.unsafe("insert into notes values (1, '4111 1111 1111 1111'), (2, 'released 2026-11-27 14:30:05,123 in 4,512 ms, v20.20.2'), (3, E'card 4111 1111\\n1111 1111\\nthanks'), (4, E'build 42\\n2026-11-27 14:30\\n10.0.0.1 v1.2.3'), (5, 'card 4111 1111 1111 111l, ssn l23-45-6789; lol I logged 12 lines, O errors')");
    await direct.end();
  }, 180_000);

  afterAll(async () => {
    await gh?.stop();
    await pg15?.stop();
    await sshd?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  describe("a control string holding a line break between the parts of a value", () => {
    it.each([
      ["an OSC title", ["card 4111 1111 \x1b]0;a\nb\x071111 1111 end\n"]],
      ["an OSC title, the chunk ending after its line break", ["card 4111 1111 \x1b]0;a\r\n", "b\x071111 1111 end\n"]],
      ["a DCS string", ["card 4111 1111 \x1bPq\n\x1b\\1111 1111 end\n"]],
      ["an APC string, the chunk ending inside it", ["card 4111 \x1b_x\n", "y\x1b\\1111 1111 1111 end\n"]],
      ["an OSC title at the '@'", ["mail alice\x1b]2;\n\x07@example.com end\n"]],
    ])("ssh: %s is masked with the value (output and recording)", async (_what, chunks) => {
      const r = await sshExec(target(), chunked(chunks));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^(card|mail) \[REDACTED:(card|email)\] end\n$/);
      const events = await newestEvents((e) => termOutput(e).includes(" end"));
      expect(termOutput(events)).toMatch(/^(card|mail) \[REDACTED:(card|email)\] end\n$/);
    });

    it.each([
      ["an OSC title inside an address's domain", "mail bob@exa\x1b]0;x\x07mple.com end\n", "mail [REDACTED:email] end\n"],
      ["a colour inside an AWS key", "key AKIA\x1b[0mIOSFODNN7EXAMPLE end\n", "key [REDACTED:aws-key] end\n"],
    ])("ssh: %s is masked whole", async (_what, text, masked) => {
      const r = await sshExec(target(), printf(text));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(masked);
    });

    it("a real terminal shows such a value whole on one row (unmasked connection), and the masked one redacted", async () => {
      const text = printf("card 4111 1111 \x1b]0;a\nb\x071111 1111 end\n");
      expect(await screenOf("plainbox", text, "end")).toContain("card 4111 1111 1111 1111 end");
      const masked = await screenOf("box", text, "end");
      expect(masked).toContain("card [REDACTED:card] end");
      expect(masked).not.toMatch(/4111|1111/);
    });
  });

  describe("tabs and commas between the groups of a card", () => {
    it.each([
      ["tabs", "v 4111\t1111\t1111\t1111 ok\n", "v [REDACTED:card] ok\n"],
      ["commas", "v 4111,1111,1111,1111 ok\n", "v [REDACTED:card] ok\n"],
      ["a list", "v [4111, 1111, 1111, 1111] ok\n", "v [[REDACTED:card]] ok\n"],
      ["nothing (ordinary numbers)", "at 14:30:05,123 took 4,512 ms; 1,234,567,890,123,456 rows\tv1.2.3\n", "at 14:30:05,123 took 4,512 ms; 1,234,567,890,123,456 rows\tv1.2.3\n"],
    ])("ssh: a line with %s", async (_what, text, masked) => {
      const r = await sshExec(target(), printf(text));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(masked);
    });

    it("ssh: split across writes at the separator", async () => {
      const r = await sshExec(target(), chunked(["v 4111,1111,", "1111,1111 ok\n"]));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("v [REDACTED:card] ok\n");
    });

    it("psql: a card cut into a text array, or re-joined with tabs or commas, is masked; ordinary text stays", async () => {
      const r = await psql(
        "select string_to_array(body, ' ') from notes where id = 1",
        "select replace(body, ' ', E'\\t') from notes where id = 1",
        "select array_to_string(string_to_array(body, ' '), ', ') from notes where id = 1",
        "select body from notes where id = 2",
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("{[REDACTED:card]}\n[REDACTED:card]\n[REDACTED:card]\nreleased 2026-11-27 14:30:05,123 in 4,512 ms, v20.20.2\n");
    });
  });

  describe("a value broken over lines at an arbitrary column", () => {
    const card = "4111 1111 1111 1111";
    it.each([
      ["printf '%s\\n' of its halves", `printf '%s\\n' 4111111 111111111`, "[REDACTED:card]\n"],
      ["one group per line", `printf '%s\\n' ${card}`, "[REDACTED:card]\n"],
      // one write each: chunk boundaries are the unit tests' (a pause longer than the idle flush releases held text by design)
      ["an SSN cut after its first dash", printf("ssn 123-\n45-6789 ok\n"), "ssn [REDACTED:ssn] ok\n"],
      ["the halves, CRLF", printf("4111 1111\r\n1111 1111\r\n"), "[REDACTED:card]\r\n"],
      ["a card after a row holding another", `printf '%s\\n' '${card} x' '5500 0000 00' '00 0004'`, "[REDACTED:card] x\n[REDACTED:card]\n"],
    ])("ssh exec: %s is masked", async (_what, command, masked) => {
      const r = await sshExec(target(), command);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(masked);
      const events = await newestEvents((e) => termOutput(e).includes("\n"));
      expect(termOutput(events)).toBe(masked);
    });

    it("ssh exec: ordinary lines with numbers keep their line breaks", async () => {
      const text = "seq:\n1\n2\n10\nbuild 42\n2026-11-27 14:30:05 started\n10.0.0.1\nnode v20.20.2\n5.9.3\n";
      const r = await sshExec(target(), printf(text));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(text.replace("10.0.0.1", "[REDACTED:ipv4]"));
    });

    it("an interactive shell in a real terminal: fold -w 7 of a card shows it redacted", async () => {
      const cmd = sshCommand(target(), [], ["-tt"]);
      const tmux = await startTmux(cmd.argv, { cols: 80, rows: 20, env: cmd.env });
      try {
        await tmux.waitFor(/\$$/m, 15_000); // capture-pane trims the space after the prompt
        // the card in octal escapes: the echoed command line holds none of its digits
        const octal = [...card].map((ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, "0")}`).join("");
        await tmux.sendLine(`printf '${octal}\\n' | fold -w 7; echo done-$((6*7))`);
        const screen = await tmux.waitFor(/^done-42$/m, 15_000);
        expect(screen).toMatch(/^\[REDACTED:card\]$/m);
        expect(screen).not.toMatch(/4111|1111|^11 |^ 1111/m);
      } finally {
        await tmux.kill();
        cmd.cleanup();
      }
    });

    it("psql: a text value holding a card over two lines is masked, other lines stay", async () => {
      const r = await psql("select body from notes where id in (3, 4) order by id");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("card [REDACTED:card]\nthanks\nbuild 42\n2026-11-27 14:30\n[REDACTED:ipv4] v1.2.3\n");
    });
  });

  describe("letters written for digits", () => {
    it.each([
      ["a card with an 'l' for a 1", "v 4111 1111 1111 111l ok\n", "v [REDACTED:card] ok\n"],
      ["a card with 'O's for 0s", "v 5500 O000 0000 0004 ok\n", "v [REDACTED:card] ok\n"],
      ["an SSN with an 'l' for a 1", "v l23-45-6789 ok\n", "v [REDACTED:ssn] ok\n"],
      ["nothing (words)", "lol I logged 12 lines, O errors, Oslo 10:00\n", "lol I logged 12 lines, O errors, Oslo 10:00\n"],
    ])("ssh: %s", async (_what, text, masked) => {
      const r = await sshExec(target(), printf(text));
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(masked);
    });

    it("psql: in a text value", async () => {
      const r = await psql("select body from notes where id = 5");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("card [REDACTED:card], ssn [REDACTED:ssn]; lol I logged 12 lines, O errors\n");
    });
  });
});
