import fs from "node:fs";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addConnection, addMaskingRule, addUser, pgUpstream, putPolicies, sshUpstream, termOutput, type Rec } from "../support/api-fixture";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { gatewayConninfo, runPsql } from "../support/psql";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { sshExec, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { chunked, printf } from "../support/shell-printf";

/**
 * Masking, round 4, through a real Gatehouse in front of a real sshd (OpenSSH ssh): a value split
 * by a control string longer than the stream can hold; a line break joined between digits that
 * no value covers (a PostgreSQL text value, psql); a sequence between a digit and the spaces of a value; a column of numbers.
 * Each case failed before its fix; the output and the recording must agree.
 *
 * Rule set "det" (every detector, redact) masks exec on the connection tagged "masked".
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
`;

const MEMBER = "mask-hunt4@example.test";
const DETECTORS = ["email", "phone", "ssn", "card", "iban", "ipv4", "ipv6", "jwt", "aws-key", "github-token", "slack-token", "stripe-key", "google-api-key", "private-key"];

const TITLE_10KB = "w ".repeat(5120);

describe("masking hunt, round 4", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let pg15: Postgres15;
  let admin = "";
  let token = "";
  const target = (): SshTarget => ({ port: gh.ports.ssh, user: "box", password: token });
  const psql = (statement: string) => runPsql(gatewayConninfo(gh.ports.postgres, "db", MEMBER), token, ["-A", "-t", "-c", statement]);

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

  /** `command` run over ssh exec: its output and the recording's are both `expected`. */
  async function expectExec(command: string, expected: string | RegExp): Promise<void> {
    const r = await sshExec(target(), command);
    expect(r.code, r.stderr).toBe(0);
    const check = (text: string) => (typeof expected === "string" ? expect(text).toBe(expected) : expect(text).toMatch(expected));
    check(r.stdout);
    const events = await newestEvents((e) => termOutput(e).includes("$ end"));
    check(termOutput(events));
  }

  beforeAll(async () => {
    [gh, sshd, pg15] = await Promise.all([startGatehouse({ demo: false, env: { GATEHOUSE_SSH_MASK_IDLE_MS: "1000" } }), startSshd(), startPostgres15()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, MEMBER);
    await addConnection(gh, admin, "box", { ...sshUpstream(sshd), tags: ["masked"] });
    await addConnection(gh, admin, "db", { ...pgUpstream(pg15), tags: ["masked"] });
    await addMaskingRule(gh, admin, { name: "all-detectors", ruleSet: "det", detectors: DETECTORS, style: "redact" });
    await putPolicies(gh, admin, POLICIES, "masking hunt 4");
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe("create table notes (id int primary key, body text)");
    await direct.unsafe("insert into notes values (1, E'4111 1111 1111 1111\\n\\r2 items')");
    await direct.end();
  }, 180_000);

  afterAll(async () => {
    await gh?.stop();
    await sshd?.stop();
    await pg15?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it.each([
    ["a 10 KB OSC title", `\x1b]0;${TITLE_10KB}\x07`],
    ["a 10 KB DCS string", `\x1bP${TITLE_10KB}\x1b\\`],
  ])("ssh: a card split by %s is masked whole (output and recording)", async (_what, seq) => {
    // one write (the channel still delivers it in pieces); halves written further apart than the
    // idle flush are a documented limit of any stream
    await expectExec(`${printf(`pay 4111 1111 ${seq}1111 1111 ok\n`)}; echo '$ end'`, "pay [REDACTED:card] ok\n$ end\n");
  });

  it("psql: a line break after a masked value, before a CR, is kept in a text value (the next row does not overwrite the marker)", async () => {
    const out = await psql("select body from notes where id = 1");
    expect(out.stdout).toBe("[REDACTED:card]\n\r2 items\n");
  });

  it("ssh: a digit, a colour code and a space before the rest of a card are masked with it", async () => {
    await expectExec(`${chunked(["pay 5\x1b[1m \x1b", " 5100000000000008 ok\n"])}; echo '$ end'`, "pay [REDACTED:card] ok\n$ end\n");
  });

  it("ssh: seq and a list of years stay as they are; a card printed one group per row is still masked", async () => {
    await expectExec("seq 4000048 4000049; seq 2023 2026; echo '$ end'", "4000048\n4000049\n2023\n2024\n2025\n2026\n$ end\n");
    await expectExec(`printf '4111\\n1111\\n1111\\n1111\\n'; echo '$ end'`, "[REDACTED:card]\n$ end\n");
  });
});
