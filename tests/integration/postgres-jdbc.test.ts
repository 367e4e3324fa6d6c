import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { sqlOnce, startPostgres15, type Postgres15 } from "../support/postgres";
import { addApprover, addConnection, addUser, heldApproval, pgUpstream, putPolicies } from "../support/api-fixture";

/**
 * A real JDBC program through the PostgreSQL gateway: pgJDBC (Debian's libpostgresql-jdbc-java)
 * run by OpenJDK, against a real Gatehouse and a real PostgreSQL 15. pgJDBC speaks only the
 * extended protocol, switches a PreparedStatement to a named server statement after
 * prepareThreshold executions and then asks for binary results (prepareThreshold=-1: binary from
 * the first), pipelines a batch before one Sync, and turns notices into SQLWarnings. The same
 * script runs directly and through the gateway and must print the same lines.
 */

const JAR = "/usr/share/java/postgresql.jar";
const PROBE = path.resolve(import.meta.dirname, "../support/jdbc/JdbcProbe.java");
/** compiled once (the source launcher would compile it for every run); a short-lived JVM starts faster with C1 only and the serial collector */
const CLASSES = fs.mkdtempSync(path.join(os.tmpdir(), "gh-jdbc-"));
const JVM = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", `${JAR}:${CLASSES}`, "JdbcProbe"];

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("read")
permit (principal, action == Gatehouse::Action::"read", resource);

@id("write")
permit (principal, action == Gatehouse::Action::"write", resource)
when { resource.name != "jdbc-held" };

@id("held-writes")
@hold("approvers")
permit (principal, action == Gatehouse::Action::"write", resource)
when { resource.name == "jdbc-held" };

@id("no-ddl")
@reason("schema changes go through migrations")
forbid (principal, action == Gatehouse::Action::"ddl", resource);

@id("masked")
@mask("pii")
permit (principal, action == Gatehouse::Action::"read", resource)
when { resource.name == "jdbc-masked" };
`;

const MEMBER = "jdbc@example.test";
const CUSTOMERS = [
  { id: 1, name: "Ada Lovelace", email: "ada.lovelace@example.com", ssn: "123-45-6789", card: "4111111111111111", balance: "1234.50", born: "1815-12-10" },
  { id: 2, name: "Alan Turing", email: "alan.turing@example.com", ssn: "234-56-7890", card: "5500005555555559", balance: "-17.25", born: "1912-06-23" },
];

/** Reads and writes a JDBC program does, ending where it began (so a second run prints the same). */
const SCRIPT = [
  "query select id, name, balance, active, born, seen, uid from customers order by id",
  // 7 executions: pgJDBC prepares S_1 on the server at the 5th and asks for binary results from then on
  "prepared 7 select id, name, balance, active, born, seen, uid, array[id, id * 10] as ids, balance * 2 as twice from customers where id >= ? order by id ;; 1",
  // fetchSize 1: Execute with a row limit, PortalSuspended, Execute again on the same portal
  "fetch 1 select id, name, born from customers order by id",
  "batch insert into jdbc_items values (?) ;; 10 11 12",
  "query select count(*), sum(v) from jdbc_items",
  "autocommit off",
  "query insert into jdbc_items values (99)",
  "rollback",
  "autocommit on",
  "query select count(*) from jdbc_items where v = 99",
  "query select 1/0",
  "query select 'still usable' as s",
  "query delete from jdbc_items",
];

interface ProbeRun {
  code: number | null;
  lines: string[];
  stderr: string;
}

describe("PostgreSQL gateway with a real JDBC program (pgJDBC)", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  const tokens = { admin: "", member: "", approver: "" };

  const gatewayUrl = (db: string, params = "") => `jdbc:postgresql://127.0.0.1:${gh.ports.postgres}/${db}?sslmode=disable&ApplicationName=jdbc-probe${params}`;
  const directUrl = (params = "") => `jdbc:postgresql://127.0.0.1:${pg15.port}/postgres?sslmode=disable${params}`;
  const viaGateway = (db: string, lines: string[], params = "") => probe(gatewayUrl(db, params), MEMBER, tokens.member, lines);
  const direct = (lines: string[], params = "") => probe(directUrl(params), "postgres", "gatehouse-test", lines);
  const sql = <T extends Record<string, unknown>[]>(text: string) => sqlOnce<T>(pg15.url, text);

  function probe(url: string, user: string, password: string, lines: string[]): Promise<ProbeRun> {
    return new Promise((resolve, reject) => {
      const p = spawn("java", [...JVM, url, user, password], { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", (d) => (stderr += d));
      p.on("error", reject);
      p.on("close", (code) => resolve({ code, lines: stdout.split("\n").filter(Boolean), stderr }));
      p.stdin.on("error", () => {}); // a refused connect exits before reading stdin
      p.stdin.end(lines.map((l) => `${l}\n`).join(""));
    });
  }
  const rows = (run: ProbeRun) => run.lines.filter((l) => l.startsWith("ROW\t")).map((l) => l.split("\t").slice(1));

  beforeAll(async () => {
    execFileSync("javac", ["-d", CLASSES, "-cp", JAR, PROBE]);
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, MEMBER);
    tokens.approver = await addApprover(gh, tokens.admin);
    for (const name of ["jdbc-rw", "jdbc-masked", "jdbc-held"]) await addConnection(gh, tokens.admin, name, { ...pgUpstream(pg15), tags: ["staging"] });
    await putPolicies(gh, tokens.admin, POLICIES, "jdbc test");
    await sql(`
      create table customers (id int primary key, name text not null, email text, ssn text, card_number text, balance numeric(12,2),
        active boolean default true, born date, seen timestamptz default '2024-05-01 12:00:00+00', uid uuid default '6ba7b810-9dad-11d1-80b4-00c04fd430c8');
      create table jdbc_items (v int);
      ${CUSTOMERS.map((c) => `insert into customers (id, name, email, ssn, card_number, balance, born) values (${c.id}, '${c.name}', '${c.email}', '${c.ssn}', '${c.card}', ${c.balance}, '${c.born}');`).join("\n")}`);
  }, 180_000);
  afterAll(async () => {
    await teardown(gh, pg15);
    fs.rmSync(CLASSES, { recursive: true, force: true });
  });

  it.each([
    ["defaults (named server statement and binary results from the 5th execution)", ""],
    ["prepareThreshold=-1 (binary results from the first execution)", "&prepareThreshold=-1"],
  ])("the same JDBC script prints the same lines directly and through the gateway: %s", async (_what, params) => {
    const want = await direct(SCRIPT, params);
    expect(want.code, want.stderr).toBe(0);
    const got = await viaGateway("jdbc-rw", SCRIPT, params);
    expect(got.code, got.stderr).toBe(0);
    expect(got.lines).toEqual(want.lines);
    // not vacuous: the script read, wrote in a batch, rolled back and failed where it should
    expect(got.lines).toContain("COUNTS\t1,1,1");
    expect(got.lines).toContain("ROW\tLong=3\tLong=33");
    expect(got.lines).toContain("ROW\tLong=0");
    expect(got.lines.some((l) => l.startsWith("ERROR\t22012\t"))).toBe(true);
    expect(rows(got).filter((r) => r[0] === "Integer=1")).toHaveLength(3); // the query, the prepared one, the fetched one
  }, 120_000);

  it("binary results on a masked connection: the real values arrive, masked columns stay masked", async () => {
    const line = "prepared 3 select id, name, email, ssn, card_number, balance, born, upper(email) as shout from customers where id >= ? order by id ;; 1";
    const want = rows(await direct([line], "&prepareThreshold=-1"));
    const fetched = "fetch 1 select id, name, email, ssn, card_number, balance, born, upper(email) as shout from customers where id >= 1 order by id";
    const run = await viaGateway("jdbc-masked", [line, fetched], "&prepareThreshold=-1");
    expect(run.code, run.stderr).toBe(0);
    const got = rows(run);
    // the prepared statement's rows, then the same rows fetched one at a time through a suspended portal
    expect(got).toHaveLength(4);
    want.push(...want);
    for (const [i, row] of got.entries()) {
      for (const col of [0, 1, 5, 6]) expect(row[col], `column ${col}`).toBe(want[i][col]);
      expect(row[3]).toBe("String=[REDACTED]");
      expect(row[4]).toBe("String=[REDACTED]");
      expect(row[2]).toMatch(/^String=h_[0-9a-f]{12}$/);
    }
    const out = run.lines.join("\n");
    for (const c of CUSTOMERS) for (const secret of [c.email, c.email.toUpperCase(), c.ssn, c.card]) expect(out).not.toContain(secret);
  }, 60_000);

  it("a denied statement is an SQLException with SQLState 42501 and the policy's reason; the connection goes on", async () => {
    const run = await viaGateway("jdbc-rw", ["query create table jdbc_denied (a int)", "query select 2 as two"]);
    expect(run.code, run.stderr).toBe(0);
    const error = run.lines.find((l) => l.startsWith("ERROR\t"));
    expect(error).toMatch(/^ERROR\t42501\t.*schema changes go through migrations/);
    expect(run.lines).toContain("ROW\tInteger=2");
    expect(await sql("select to_regclass('jdbc_denied') as t")).toEqual([{ t: null }]);
  }, 60_000);

  it("a held write: the program waits, an approver approves, it completes and the notice is a SQLWarning; a denied hold is an SQLException", async () => {
    const running = viaGateway("jdbc-held", ["query insert into jdbc_items values (500)", "prepared 1 insert into jdbc_items values (?) ;; 501", "query select 3 as three"]);
    const first = await heldApproval(gh, tokens.approver, /insert into jdbc_items values \(500\)/);
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${first.id}/approve`, {})).status).toBe(200);
    const second = await heldApproval(gh, tokens.approver, /insert into jdbc_items values \(\$1\)/);
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${second.id}/deny`, { reason: "not 501" })).status).toBe(200);
    const run = await running;
    expect(run.code, run.stderr).toBe(0);
    const [approved, denied, after] = run.lines.join("\n").split("DONE").map((s) => s.trim());
    expect(approved).toMatch(/^WARNING\t.*held for approval #\d+/m);
    expect(approved).toMatch(/^COUNT\t1$/m);
    expect(denied).toMatch(/^ERROR\t42501\t/m);
    expect(after).toBe("COLUMNS\tthree:int4\nROW\tInteger=3");
    expect(await sql("select v from jdbc_items where v >= 500 order by v")).toEqual([{ v: 500 }]);
    await sql("delete from jdbc_items");
  }, 120_000);

  it("TLS (sslmode=require) works; a wrong token is refused with 28P01 before any statement", async () => {
    const tls = await probe(gatewayUrl("jdbc-rw").replace("sslmode=disable", "sslmode=require"), MEMBER, tokens.member, ["query select current_setting('server_version_num')::int / 10000 as major"]);
    expect(tls.code, tls.stderr).toBe(0);
    expect(tls.lines).toContain("ROW\tInteger=15");
    const bad = await probe(gatewayUrl("jdbc-rw"), MEMBER, `${tokens.member}x`, ["query select 1"]);
    expect(bad.code).toBe(2);
    expect(bad.lines[0]).toMatch(/^CONNECT_ERROR\t28P01\t/);
  }, 60_000);
});
