import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FrontendMessage } from "@/lib/gateway/protocols/postgres/wire";
import type { Rec } from "../support/api-fixture";
import { holdDifferential, type Target } from "../support/pg-hold-fixture";
import { bind, describeMsg, execute, FLUSH, parse, q, SYNC, text } from "../support/pg-wire-client";

/**
 * Differential test of the PostgreSQL gateway's HOLD path.
 * The same raw protocol messages go to a real PostgreSQL 15 directly and through Gatehouse on a
 * connection whose policy holds some of them; an approver (a poller in tests/support/pg-hold-fixture.ts,
 * through the REST API) approves every pending approval the moment it appears. Once approved, what the client
 * gets must be exactly what PostgreSQL gives directly, message for message, with this ONE
 * intended difference: each held unit (a simple Query, or an extended batch up to Sync or Flush,
 * README "PostgreSQL gateway", protocols/postgres/README.md "Decisions") is announced by a
 * NoticeResponse `NOTICE 00000 held for approval #N: <url>` sent the moment it is held. Those
 * notices are stripped before comparing, and checked instead: exactly one per approval the
 * poller approved during the run, in order, each naming that approval's id and URL (plus, when
 * PostgreSQL ended the session with FATAL while a later unit was held, that unit's notice, its
 * approval closed with the session: cancelled, or approved too late to be used). A unit is held
 * for what its Executes run (a Parse-only batch is not decided), under the policy of the
 * connection used: `hold-writes` holds every statement that is not a read, `hold-table` every
 * one touching hd_x.
 *
 * Normalizations (everything else is compared whole, ErrorResponse/NoticeResponse down to the
 * source file, line and routine, DataRow values as bytes):
 *
 * - the "held for approval" notices, as above (only a notice of exactly that shape is stripped;
 *   any other NOTICE is compared);
 * - startup (ParameterStatus, BackendKeyData) is consumed by login and never compared: the gateway
 *   hands out its own pid and cancel key by design;
 * - a connection PostgreSQL ended with FATAL may lose its last messages through the gateway
 *   (lostToReset, the same rule and reason as postgres-differential.test.ts);
 * - no NOTIFY/LISTEN is generated here (postgres-differential.test.ts covers their pids);
 * - the tables are put back into the same state before each side runs (reset()), since the
 *   sequences write and commit: the same rows in the same order on disk, which an UPDATE ...
 *   RETURNING (no ORDER BY) returns them in.
 *
 * The denial path, for contrast: postgres-deny-differential.test.ts. Setup and runs:
 * tests/support/pg-hold-fixture.ts.
 */

// ---- what the generated sequences are made of ----

const STATEMENT = fc.constantFrom("", "s1", "s2");
const PORTAL = fc.constantFrom("", "p1", "p2");

/**
 * SQL for Parse: reads and writes of both tables (writes with RETURNING, to suspend), writes
 * that fail upstream (a duplicate key, a bad parameter), errors at parse time and run time,
 * transaction control and a cursor.
 */
const PARSE_SQL = fc.constantFrom(
  "select id, name from hd_t order by id",
  "select name from hd_t where id = $1",
  "select id, v from hd_x order by id",
  "insert into hd_t values ($1::int, 'p')",
  "insert into hd_t values (1, 'dup')",
  "update hd_t set name = coalesce(name, '') || '+' returning id, name",
  "update hd_x set v = v || '!' where id = $1::int",
  "delete from hd_x where id = 2 returning id, v",
  "insert into hd_x values (7, 'x7')",
  "select id from hd_t order by id for update",
  "select generate_series(1, 3) as g",
  "select 1/0",
  "selec 1",
  "",
  "begin",
  "commit",
  "rollback",
  "declare c1 cursor for select id from hd_x order by id",
  "fetch 2 from c1",
  "copy hd_in from stdin",
);

const QUERY_SQL = fc.constantFrom(
  "select id, name from hd_t order by id",
  "select id, v from hd_x order by id",
  "insert into hd_t values (10, 'ten')",
  "insert into hd_t values (2, 'dup')",
  "update hd_x set v = upper(v) returning id, v",
  "delete from hd_t where id = 3",
  "select 1 as a; insert into hd_x values (5, 'x5'); select count(*) from hd_x",
  "insert into hd_t values (11, 'a'); insert into hd_t values (1, 'dup'); insert into hd_t values (12, 'b')",
  "begin",
  "commit",
  "rollback",
  "select 1/0",
  "prepare s1 as insert into hd_t values ($1, 'prepared')",
  "execute s1(20)",
  "deallocate s1",
  "copy hd_in from stdin",
);

const PARAM = fc.constantFrom<string | null>("1", "2", "13", "abc", null);
const PARAM_TYPES = fc.constantFrom<number[]>([], [23], [25]);

const message: fc.Arbitrary<FrontendMessage> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ name: STATEMENT, text: PARSE_SQL, paramTypes: PARAM_TYPES }).map((m) => ({ type: "Parse", ...m }) as FrontendMessage) },
  { weight: 4, arbitrary: fc.record({ portal: PORTAL, statement: STATEMENT, params: fc.array(PARAM, { maxLength: 2 }) }).map((m) => bind(m.portal, m.statement, m.params)) },
  { weight: 1, arbitrary: fc.record({ target: fc.constantFrom<"S" | "P">("S", "P"), name: fc.oneof(STATEMENT, PORTAL) }).map((m) => describeMsg(m.target, m.name)) },
  { weight: 4, arbitrary: fc.record({ portal: PORTAL, maxRows: fc.constantFrom(0, 0, 1, 2) }).map((m) => execute(m.portal, m.maxRows)) },
  { weight: 1, arbitrary: fc.record({ target: fc.constantFrom<"S" | "P">("S", "P"), name: fc.oneof(STATEMENT, PORTAL) }).map((m) => ({ type: "Close", ...m }) as FrontendMessage) },
  { weight: 1, arbitrary: fc.constant(FLUSH) },
  { weight: 3, arbitrary: fc.constant(SYNC) },
  { weight: 3, arbitrary: QUERY_SQL.map(q) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<FrontendMessage>({ type: "CopyData", data: text("7\tseven\n") }, { type: "CopyData", data: text("x\n") }, { type: "CopyDone" }, { type: "CopyFail", message: "client gave up" }),
  },
);

/** A statement run as drivers run it: Parse, Bind, perhaps Describe, Execute (perhaps limited and resumed), perhaps Sync. */
const statementRun: fc.Arbitrary<FrontendMessage[]> = fc
  .record({
    name: STATEMENT,
    portal: PORTAL,
    text: PARSE_SQL,
    params: fc.array(PARAM, { maxLength: 1 }),
    describe: fc.constantFrom<"S" | "P" | null>("S", "P", null),
    maxRows: fc.constantFrom(0, 1, 2),
    resume: fc.boolean(),
    end: fc.constantFrom<FrontendMessage | null>(SYNC, SYNC, FLUSH, null),
  })
  .map((r) => [
    parse(r.name, r.text),
    { type: "Bind", portal: r.portal, statement: r.name, paramFormats: [], params: r.params.map((p) => (p === null ? null : text(p))), resultFormats: [] } as FrontendMessage,
    ...(r.describe ? [describeMsg(r.describe, r.describe === "S" ? r.name : r.portal)] : []),
    execute(r.portal, r.maxRows),
    ...(r.resume ? [execute(r.portal, 0)] : []),
    ...(r.end ? [r.end] : []),
  ]);

/** COPY FROM STDIN, by simple Query or through Execute, with its data pipelined behind it. */
const copyIn: fc.Arbitrary<FrontendMessage[]> = fc
  .record({
    extended: fc.boolean(),
    rows: fc.array(fc.constantFrom("7\tseven\n", "8\t\\N\n", "not-a-number\n"), { maxLength: 2 }),
    end: fc.constantFrom<FrontendMessage>({ type: "CopyDone" }, { type: "CopyFail", message: "client gave up" }),
  })
  .map((r) => [
    ...(r.extended ? [parse("", "copy hd_in from stdin"), bind("", ""), execute("")] : [q("copy hd_in from stdin")]),
    ...r.rows.map((row): FrontendMessage => ({ type: "CopyData", data: text(row) })),
    r.end,
    ...(r.extended ? [SYNC] : []),
  ]);

const sequence = fc
  .array(fc.oneof({ weight: 5, arbitrary: message.map((m) => [m]) }, { weight: 3, arbitrary: statementRun }, { weight: 1, arbitrary: copyIn }), { minLength: 1, maxLength: 5 })
  .map((parts) => parts.flat().slice(0, 12));

describe("PostgreSQL gateway: held statements and batches, differential against PostgreSQL 15", () => {
  const fixture = holdDifferential();
  const { expectSameOnceApproved } = fixture;

  const types = (msgs: readonly string[]) => msgs.map((m) => m.split(" ")[0]);
  const texts = (approvals: readonly Rec[]) => approvals.map((a) => a.request.text);

  // ---- simple query ----

  it("a held simple query: one statement", async () => {
    const { direct, approvals } = await expectSameOnceApproved([q("insert into hd_t values (10, 'ten')"), q("select id, name from hd_t order by id")]);
    expect(texts(approvals)).toEqual(["insert into hd_t values (10, 'ten')"]);
    expect(direct).toContain('CommandComplete {"tag":"INSERT 0 1"}');
    expect(direct).toContain(`DataRow ${JSON.stringify([text("10").toString("hex"), text("ten").toString("hex")])}`);
  }, 30_000);

  it("a held simple query: several statements in one string are held once, as a whole", async () => {
    const sql = "insert into hd_t values (10, 'ten'); update hd_x set v = upper(v) returning id, v; select count(*) from hd_t";
    const { direct, approvals } = await expectSameOnceApproved([q(sql)]);
    expect(texts(approvals)).toEqual([sql]);
    expect(types(direct).slice(0, 8)).toEqual(["CommandComplete", "RowDescription", "DataRow", "DataRow", "CommandComplete", "RowDescription", "DataRow", "CommandComplete"]);
  }, 30_000);

  it("held writes inside an open transaction keep it open ('T') and commit with it", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      q("begin"),
      q("insert into hd_t values (10, 'ten')"),
      q("update hd_x set v = 'changed' where id = 1"),
      q("select id, v from hd_x order by id"),
      q("commit"),
      q("select count(*) from hd_t"),
    ]);
    expect(approvals).toHaveLength(2);
    expect(direct.filter((m) => m.startsWith("ReadyForQuery"))).toEqual([
      'ReadyForQuery {"status":"T"}',
      'ReadyForQuery {"status":"T"}',
      'ReadyForQuery {"status":"T"}',
      'ReadyForQuery {"status":"T"}',
      'ReadyForQuery {"status":"I"}',
      'ReadyForQuery {"status":"I"}',
      'ReadyForQuery {"status":"I"}', // the harness's Sync
      'ReadyForQuery {"status":"I"}', // and its marker query
    ]);
  }, 30_000);

  it("a held statement that fails upstream: the same error and ReadyForQuery, 'E' inside a transaction", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      q("insert into hd_t values (1, 'dup')"),
      q("begin"),
      q("insert into hd_t values (10, 'ten')"),
      q("insert into hd_t values (2, 'dup')"),
      q("select 1"),
      q("update hd_x set v = 'never'"), // held too, then refused upstream: the transaction failed
      q("rollback"),
      q("insert into hd_t values (11, 'a'); insert into hd_t values (3, 'dup'); insert into hd_t values (12, 'b')"),
      q("select id from hd_t order by id"),
    ]);
    expect(approvals).toHaveLength(5);
    const statuses = direct.filter((m) => m.startsWith("ReadyForQuery")).map((m) => JSON.parse(m.slice("ReadyForQuery ".length)).status);
    expect(statuses.slice(0, 9).join("")).toBe("ITTEEEIII");
    expect(direct.filter((m) => m.startsWith("ErrorResponse")).map((m) => JSON.parse(m.slice("ErrorResponse ".length)).code)).toEqual(["23505", "23505", "25P02", "25P02", "23505"]);
  }, 30_000);

  // ---- extended protocol ----

  it("a pipelined batch of Parse/Bind/Describe/Execute up to Sync is held as a whole, then runs", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      parse("s1", "insert into hd_t values ($1::int, $2) returning id, name"),
      parse("", "update hd_x set v = v || '!' returning id, v"),
      bind("p1", "s1", ["10", "ten"]),
      bind("", ""),
      describeMsg("S", "s1"),
      describeMsg("P", "p1"),
      describeMsg("P", ""),
      execute("p1"),
      execute(""),
      parse("s2", "select id, name from hd_t order by id"),
      bind("p2", "s2"),
      execute("p2"),
      SYNC,
      // the named statement and portal it made live on: run them again (the portal is gone after Sync)
      bind("p1", "s1", ["11", "eleven"]),
      execute("p1"),
      SYNC,
    ]);
    expect(approvals).toHaveLength(2);
    expect(approvals[0].request.text).toBe("insert into hd_t values ($1::int, $2) returning id, name;\nupdate hd_x set v = v || '!' returning id, v;\nselect id, name from hd_t order by id");
    expect(approvals[0].request.params).toEqual(["10", "ten"]);
    expect(approvals[1].request.params).toEqual(["11", "eleven"]);
    expect(direct.filter((m) => m.startsWith("CommandComplete"))).toContain('CommandComplete {"tag":"INSERT 0 1"}');
  }, 30_000);

  it("several Syncs in one write: each batch is held on its own, reads are not", async () => {
    const { approvals } = await expectSameOnceApproved([
      parse("", "insert into hd_t values (10, 'ten')"),
      bind("", ""),
      execute(""),
      SYNC,
      parse("", "select id, name from hd_t order by id"),
      bind("", ""),
      execute(""),
      SYNC,
      parse("", "insert into hd_t values (10, 'again')"), // fails upstream: duplicate
      bind("", ""),
      execute(""),
      parse("", "delete from hd_x"), // skipped by PostgreSQL after the error, to Sync
      bind("", ""),
      execute(""),
      SYNC,
      parse("", "delete from hd_t where id = 10"),
      bind("", ""),
      execute(""),
      SYNC,
    ]);
    expect(texts(approvals)).toEqual(["insert into hd_t values (10, 'ten')", "insert into hd_t values (10, 'again');\ndelete from hd_x", "delete from hd_t where id = 10"]);
  }, 30_000);

  it("a Flush inside a held batch: the part before it is held and runs, then the rest", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      parse("s1", "insert into hd_t values ($1::int, 'f') returning id"),
      bind("", "s1", ["10"]),
      execute(""),
      FLUSH,
      bind("", "s1", ["11"]),
      execute(""),
      parse("", "select id from hd_t order by id"),
      bind("", ""),
      execute(""),
      SYNC,
      q("select count(*) from hd_t"),
    ]);
    // decided in parts (protocols/postgres/README.md "Limits"): one approval each
    expect(approvals.map((a) => a.request.params)).toEqual([["10"], ["11"]]);
    expect(direct.filter((m) => m.startsWith("DataRow")).at(-2)).toBe(`DataRow ${JSON.stringify([text("5").toString("hex")])}`);
  }, 30_000);

  it("Execute with row limits: PortalSuspended, then the same portal resumed by a later held batch", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      // in one held batch
      parse("", "update hd_t set name = coalesce(name, '') || '+' returning id, name"),
      bind("", ""),
      execute("", 1),
      execute("", 1),
      execute("", 0),
      SYNC,
      // across holds, in a transaction (the portal outlives Sync)
      q("begin"),
      parse("s1", "delete from hd_x returning id, v"),
      bind("p1", "s1"),
      execute("p1", 1),
      SYNC,
      execute("p1", 1),
      SYNC,
      execute("p1", 0),
      SYNC,
      q("commit"),
      // across a Flush, in the implicit transaction
      parse("s2", "insert into hd_x values (8, 'a'), (9, 'b') returning id"),
      bind("p2", "s2"),
      execute("p2", 1),
      FLUSH,
      execute("p2", 0),
      SYNC,
    ]);
    expect(approvals).toHaveLength(6);
    expect(types(direct).filter((t) => t === "PortalSuspended")).toHaveLength(5);
  }, 30_000);

  it("a held COPY FROM STDIN with its data pipelined behind it", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      q("copy hd_in from stdin"),
      { type: "CopyData", data: text("7\tseven\n") },
      { type: "CopyDone" },
      parse("", "copy hd_in from stdin"),
      bind("", ""),
      execute(""),
      { type: "CopyData", data: text("8\teight\n") },
      { type: "CopyDone" },
      SYNC,
    ]);
    expect(approvals).toHaveLength(2);
    expect(direct.filter((m) => m === 'CommandComplete {"tag":"COPY 1"}')).toHaveLength(2);
  }, 30_000);

  it("a held FunctionCall (unknown to policy) runs once approved", async () => {
    const [{ oid }] = await fixture.setup`select 'int4abs'::regproc::oid::int as oid`;
    const call: FrontendMessage = { type: "FunctionCall", functionOid: oid, argFormats: [0], args: [text("-42")], resultFormat: 0 };
    const { direct, approvals } = await expectSameOnceApproved([q("begin"), call, q("select 1/0"), call, q("rollback"), call]);
    expect(texts(approvals)).toEqual([`FunctionCall ${oid}`, `FunctionCall ${oid}`, `FunctionCall ${oid}`]);
    expect(direct.filter((m) => m.startsWith("FunctionCallResponse"))).toEqual([`FunctionCallResponse {"value":"${text("42").toString("hex")}"}`, `FunctionCallResponse {"value":"${text("42").toString("hex")}"}`]);
  }, 30_000);

  // Found here: the gateway applied what a Parse, Bind or Close defines as soon as it forwarded it,
  // whatever the upstream made of it. A Parse of an existing name (42P05), or messages skipped after
  // an error until Sync, left the gateway deciding an Execute of s1 as "select 1" (a read, not held)
  // while the upstream ran the DELETE s1 still was: a write ran with no approval. Now a definition
  // counts once the upstream confirmed it, and a batch using a name still being defined waits for
  // that answer (the sequences below are written at once, pipelined).
  it("regression: a Parse the upstream refused does not redefine a statement for policy", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      parse("s1", "delete from hd_t where id = 1"),
      SYNC,
      parse("s1", "select 1"), // 42P05 upstream: s1 is still the DELETE
      SYNC,
      bind("", "s1"),
      execute(""),
      SYNC,
      q("execute s1"), // SQL EXECUTE of it: the same
    ]);
    expect(direct.filter((m) => m.startsWith("ErrorResponse")).map((m) => JSON.parse(m.slice("ErrorResponse ".length)).code)).toEqual(["42P05"]);
    expect(direct.filter((m) => m.startsWith("CommandComplete {\"tag\":\"DELETE"))).toEqual(['CommandComplete {"tag":"DELETE 1"}', 'CommandComplete {"tag":"DELETE 0"}']);
    expect(texts(approvals)).toEqual(["delete from hd_t where id = 1", "execute s1"]);
  }, 30_000);

  // The same through SQL: a PREPARE the upstream refused (42P05) made s1 that read for the gateway.
  it("regression: a SQL PREPARE the upstream refused does not redefine a statement for policy", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      parse("s1", "delete from hd_t where id = 1"),
      SYNC,
      q("prepare s1 as select 1"), // 42P05 upstream: s1 is still the DELETE
      bind("", "s1"), // pipelined right behind it
      execute(""),
      SYNC,
      q("select 1; prepare s2 as select 2; execute s1"), // one PREPARE made, then s1 (the DELETE) again
      bind("", "s2"),
      execute(""),
      SYNC,
    ]);
    expect(direct.filter((m) => m.startsWith("ErrorResponse")).map((m) => JSON.parse(m.slice("ErrorResponse ".length)).code)).toEqual(["42P05"]);
    expect(direct.filter((m) => m.startsWith("CommandComplete {\"tag\":\"DELETE"))).toEqual(['CommandComplete {"tag":"DELETE 1"}', 'CommandComplete {"tag":"DELETE 0"}']);
    expect(texts(approvals)).toEqual(["delete from hd_t where id = 1", "select 1; prepare s2 as select 2; execute s1"]);
  }, 30_000);

  it("regression: a Close and Parse skipped after an error do not redefine a statement for policy", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      parse("s1", "delete from hd_t where id = 1"),
      SYNC,
      parse("", "selec 1"), // 42601: the Close and Parse behind it are skipped to Sync
      { type: "Close", target: "S", name: "s1" },
      parse("s1", "select 1"),
      SYNC,
      bind("p1", "s1"),
      execute("p1"),
      SYNC,
    ]);
    expect(direct.filter((m) => m.startsWith("ErrorResponse")).map((m) => JSON.parse(m.slice("ErrorResponse ".length)).code)).toEqual(["42601"]);
    expect(direct).toContain('CommandComplete {"tag":"DELETE 1"}');
    expect(texts(approvals)).toEqual(["delete from hd_t where id = 1"]);
  }, 30_000);

  // Found by the property while fixing the above: after an error in a batch ended by Flush, the
  // upstream skips what is forwarded until a Sync; the relay kept those messages waiting for an
  // answer, and a later batch using a name they defined waited for them forever (a hang).
  it("regression: after an error before a Flush, what is forwarded until Sync is skipped, also for the names it defines", async () => {
    const { direct, approvals } = await expectSameOnceApproved([
      parse("", "select id, name from hd_t order by id"),
      bind("", "", ["1"]), // 08P01: one parameter too many
      execute(""),
      FLUSH,
      parse("s1", "update hd_t set name = 'skipped' returning id, name"),
      bind("", "s1"),
      execute(""),
      FLUSH,
      bind("", "s1"), // s1 was never defined upstream
      execute(""),
      SYNC,
      bind("", "s1"),
      SYNC,
    ]);
    expect(direct.filter((m) => m.startsWith("ErrorResponse")).map((m) => JSON.parse(m.slice("ErrorResponse ".length)).code)).toEqual(["08P01", "26000"]);
    // the UPDATE batch (held, then skipped upstream), then an Execute of s1, which the gateway knows
    // is not defined (unknown, held like any write here)
    expect(texts(approvals)).toEqual(["update hd_t set name = 'skipped' returning id, name", 'EXECUTE PORTAL "" (unknown to the gateway)']);
  }, 30_000);

  // The fix above waits for the upstream's answer to a Parse before deciding what uses its name;
  // PostgreSQL answers only on Flush or Sync, so a Parse sent ahead of a Query with neither (found
  // by the property) waited forever until the gateway sent a Flush of its own.
  it("regression: a Parse pipelined ahead of a Query without Sync or Flush, and an EXECUTE of it", async () => {
    const { approvals } = await expectSameOnceApproved([
      parse("s1", "delete from hd_t where id = $1::int"),
      q("execute s1(2)"),
      parse("s2", "select id from hd_t order by id"),
      bind("", "s2"),
      execute(""),
      { type: "FunctionCall", functionOid: 1397, argFormats: [0], args: [text("-1")], resultFormat: 0 }, // abs(int4)
      SYNC,
    ]);
    expect(texts(approvals)).toEqual(["execute s1(2)", "FunctionCall 1397"]);
  }, 30_000);

  // Found by postgres-differential's property while fixing the above: a Query sent behind an
  // extended message that failed, before any Sync, is discarded by PostgreSQL (it reads nothing
  // but Sync then); the relay waited for its answer and took the Sync's ReadyForQuery for it, so
  // every later answer was matched to the message before it (so already before the fix, unseen
  // by the client: only masking and recording read that match); with the fix, a batch using s2
  // then waited for a ParseComplete the relay had matched to another message: a hang.
  it("regression: a Query discarded by PostgreSQL while it skips to Sync is not waited for", async () => {
    await expectSameOnceApproved([
      bind("", "nope"), // 26000, skip to Sync
      q("insert into hd_t values (10, 'discarded')"), // held, then discarded upstream
      { type: "CopyDone" },
      SYNC,
      parse("s2", "select id, name from hd_t order by id"),
      bind("", "s2"),
      describeMsg("S", "s2"),
      execute(""),
      SYNC,
      bind("", "s2"),
      execute(""),
    ]);
  }, 30_000);

  // Found by the property (once in some 2,600 runs, never reproduced then): the first row of an
  // UPDATE ... RETURNING limited by Execute differed, PostgreSQL's own order and not the gateway's
  // doing. Without ORDER BY the rows come in heap order, and the reset before each side (DELETE,
  // then INSERT) put the rows wherever the free space map and the last page used sent them, which
  // depends on what ran before: here two pages with room for one row each, so reset put row 1 on
  // page 1 and row 2 on page 0, and only the side run first found them so. Now reset truncates.
  it("regression: the rows are in the same order on disk before each side runs, whatever ran before", async () => {
    await fixture.setup.unsafe(`
      truncate hd_t;
      insert into hd_t select g, repeat('f', 1990) from generate_series(1000, 1003) g;
      insert into hd_t select g, repeat('f', 1990) from generate_series(1004, 1007) g`);
    const { direct } = await expectSameOnceApproved([
      parse("s1", "update hd_t set name = coalesce(name, '') || '+' returning id, name"),
      bind("p1", "s1"),
      execute("p1", 1),
      FLUSH,
      { type: "CopyFail", message: "client gave up" },
      parse("s1", "select 1"), // 42P05
      parse("s2", "select 2"),
    ]);
    expect(direct.find((m) => m.startsWith("DataRow"))).toBe(`DataRow ${JSON.stringify([text("1").toString("hex"), text("one+").toString("hex")])}`);
  }, 30_000);

  it("generated sequences, held (every write, or everything touching hd_x) and approved, get PostgreSQL's answers", async () => {
    let heldRuns = 0;
    await fc.assert(
      fc.asyncProperty(sequence, fc.constantFrom<Exclude<Target, "deny">>("hold-writes", "hold-table"), async (seq, target) => {
        const { approvals } = await expectSameOnceApproved(seq, target);
        if (approvals.length) heldRuns++;
      }),
      {
        numRuns: Number(process.env.DIFF_RUNS ?? 60),
        ...(process.env.DIFF_SEED ? { seed: Number(process.env.DIFF_SEED) } : {}),
        ...(process.env.DIFF_PATH ? { path: process.env.DIFF_PATH } : {}),
      },
    );
    console.log(`[hold-differential] ${heldRuns} of ${Number(process.env.DIFF_RUNS ?? 60)} generated runs held something`);
    // the property is about holds: many runs must have held something (20-33 of 60 seen; 1/3 failed at 20)
    if (!process.env.DIFF_PATH) expect(heldRuns).toBeGreaterThan(Number(process.env.DIFF_RUNS ?? 60) / 6);
  }, 240_000);
});
