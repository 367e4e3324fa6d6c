import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FrontendMessage } from "@/lib/gateway/protocols/postgres/wire";
import { answers, holdDifferential, sleep } from "../support/pg-hold-fixture";
import { bind, describeSequence, execute, FLUSH, parse, q, SYNC, text } from "../support/pg-wire-client";

/**
 * Differential test of the PostgreSQL gateway's DENY path, beside its hold path
 * (postgres-hold-differential.test.ts, whose setup and normalizations it shares:
 * tests/support/pg-hold-fixture.ts). The same raw protocol messages go to a real PostgreSQL 15
 * directly and through Gatehouse on the `deny` connection, whose policy forbids hd_secret.
 *
 * Denial rule: a denied unit — a simple Query, or the
 * extended messages from the first one of a batch up to and including the Sync that ends it
 * (after a denial the gateway discards up to Sync, as PostgreSQL does after an error) — is
 * answered with ErrorResponse 42501 and then exactly what PostgreSQL answers to a bare Sync sent
 * in its place: ReadyForQuery with the status the session had before (a denial inside a
 * transaction does not fail it: 'T' stays 'T', 'E' stays 'E'), and nothing of it ran upstream
 * (a statement it Parsed does not exist, its writes did not happen). So the gateway's answers
 * with that one ErrorResponse removed must equal PostgreSQL's answers to the sequence with the
 * unit replaced by Sync. A unit is denied for what its Executes run, as policy sees it (the
 * denial property reads which units were denied from the gateway's answers; a Query naming
 * hd_secret must be among them).
 */

const STATEMENT = fc.constantFrom("", "s1", "s2");
const PORTAL = fc.constantFrom("", "p1", "p2");

describe("PostgreSQL gateway: denied statements and batches, differential against PostgreSQL 15", () => {
  const fixture = holdDifferential();
  const { runDirect, runGateway, reset, openGateway } = fixture;

  /**
   * `seq` through the gateway on the `deny` connection, where `denied` (indexes into seq) are the
   * first message of each unit policy denies, and `unitEnd` the index of the message ending it
   * (the Query itself, or the Sync); directly, each such unit is replaced by a bare Sync.
   */
  async function expectDeniedAsIfSync(seq: readonly FrontendMessage[], units: [first: number, last: number][]) {
    const directSeq: FrontendMessage[] = [];
    for (let i = 0; i < seq.length; i++) {
      const unit = units.find(([first]) => first === i);
      if (unit) {
        directSeq.push(SYNC);
        i = unit[1];
      } else directSeq.push(seq[i]);
    }
    const direct = await runDirect(directSeq);
    const { got, approvals } = await runGateway(seq, "deny");
    const where = `sequence:\n${describeSequence(seq)}`;
    expect(got.held, where).toEqual([]);
    expect(approvals, where).toEqual([]);
    const denials = got.msgs.filter((m) => m.startsWith("ErrorResponse") && m.includes('"code":"42501"'));
    expect(denials, where).toEqual(units.map(() => 'ErrorResponse {"severity":"ERROR","severityNonLocalized":"ERROR","code":"42501","message":"gatehouse: hd_secret is off limits"}'));
    expect(
      got.msgs.filter((m) => !denials.includes(m)),
      where,
    ).toEqual(direct.msgs);
    return direct.msgs;
  }

  it("denied simple queries leave the session as if a bare Sync had been sent in their place", async () => {
    const seq = [
      q("begin"),
      q("insert into hd_t values (10, 'ten')"),
      q("select s from hd_secret"), // denied: the transaction stays 'T', not 'E'
      q("select id from hd_t order by id"),
      q("commit"),
      q("begin"),
      q("select 1/0"),
      q("delete from hd_secret"), // denied in a failed transaction: stays 'E'
      q("rollback"),
      q("select count(*) from hd_t"),
    ];
    const direct = await expectDeniedAsIfSync(seq, [
      [2, 2],
      [7, 7],
    ]);
    expect(direct.filter((m) => m.startsWith("ReadyForQuery")).map((m) => JSON.parse(m.slice("ReadyForQuery ".length)).status).join("")).toBe("TTTTITEEIIII");
  }, 30_000);

  // Policy decides what an Execute runs, not what a Parse defines: a unit is denied for its
  // Executes, and then nothing of it reaches the upstream (its Close and Parse included).
  it("a denied extended batch: nothing of it runs or is defined, up to its Sync", async () => {
    const seq = [
      parse("s1", "select 1 as one"),
      SYNC,
      q("begin"),
      { type: "Close", target: "S", name: "s1" } as FrontendMessage,
      parse("s1", "select s from hd_secret"),
      bind("p1", "s1"),
      execute("p1"),
      parse("s2", "insert into hd_t values (20, 'never')"),
      bind("p2", "s2"),
      execute("p2"),
      FLUSH, // denied on Flush: everything up to Sync is discarded, as after an error
      parse("s3", "select 3"),
      bind("", "s3"),
      execute(""),
      SYNC,
      bind("", "s1"), // still "select 1"
      execute(""),
      bind("", "s2"), // never defined
      execute(""),
      SYNC,
      q("rollback"),
      q("select count(*) from hd_t"),
    ];
    const direct = await expectDeniedAsIfSync(seq, [[3, 14]]);
    expect(direct).toContain(`DataRow ${JSON.stringify([text("1").toString("hex")])}`);
    expect(direct.some((m) => m.startsWith("ErrorResponse") && m.includes('"code":"26000"') && m.includes('prepared statement \\"s2\\" does not exist'))).toBe(true);
    expect(direct.filter((m) => m.startsWith("ReadyForQuery")).map((m) => JSON.parse(m.slice("ReadyForQuery ".length)).status).join("")).toBe("ITTEIIII");
  }, 30_000);

  // PostgreSQL ignores a Sync that reaches it during COPY FROM STDIN (libpq's PQexecParams of a
  // COPY sends one behind the Execute, and one more behind CopyDone): found by the hold property's
  // hunt, the gateway waited for that Sync's ReadyForQuery, so the next refusal waited forever.
  it("regression: a Sync sent during COPY FROM STDIN is not waited for; a denial after the COPY answers at once", async () => {
    const copy = (end: FrontendMessage) => [parse("", "copy hd_in from stdin"), bind("", ""), execute(""), SYNC, { type: "CopyData", data: text("7\tseven\n") } as FrontendMessage, SYNC, end, SYNC];
    const seq = [
      ...copy({ type: "CopyDone" }),
      q("select s from hd_secret"), // denied
      ...copy({ type: "CopyFail", message: "client gave up" }),
      q("delete from hd_secret"), // denied
      q("select count(*) from hd_in"),
    ];
    const direct = await expectDeniedAsIfSync(seq, [
      [8, 8],
      [17, 17],
    ]);
    expect(direct).toContain('CommandComplete {"tag":"COPY 1"}');
    expect(direct.some((m) => m.startsWith("ErrorResponse") && m.includes('"code":"57014"'))).toBe(true); // the CopyFail
    expect(direct).toContain(`DataRow ${JSON.stringify([text("1").toString("hex")])}`);
  }, 30_000);

  // Found by the write-bypass property: after an error in a batch ended by Flush the upstream skips
  // everything until a Sync; a refused unit's Sync never reached it, so it skipped all that followed.
  it("regression: a unit refused while the upstream skips to Sync after an error gives it that Sync", async () => {
    const seq = [
      parse("x", "select 1; select 2"), // 42601 on Flush: the upstream now skips until Sync
      FLUSH,
      parse("", "select s from hd_secret"), // denied, up to its Sync
      bind("", ""),
      execute(""),
      SYNC,
      q("select count(*) from hd_t"),
      parse("y", "select 3 as three"),
      FLUSH,
      q("delete from hd_secret"), // denied, the upstream not skipping
      bind("", "y"),
      execute(""),
      SYNC,
    ];
    const direct = await expectDeniedAsIfSync(seq, [
      [2, 5],
      [9, 9],
    ]);
    expect(direct.some((m) => m.startsWith("ErrorResponse") && m.includes('"code":"42601"'))).toBe(true);
    expect(direct).toContain(`DataRow ${JSON.stringify([text("3").toString("hex")])}`);
  }, 30_000);

  // Intended (protocols/postgres/README.md "Limits"): a part refused after an earlier part of the
  // same pipeline already ran cannot be answered as "not sent" (the client's Sync would commit the
  // earlier part): the connection ends with FATAL 42501 so that the upstream rolls it back.
  it("intended: a denied part after an earlier part of the pipeline ran ends the session, and the earlier part rolls back", async () => {
    await reset();
    const g = await openGateway("deny");
    try {
      const got = await answers(g, [
        parse("", "insert into hd_t values (20, 'rolled back')"),
        bind("", ""),
        execute(""),
        FLUSH,
        parse("", "select s from hd_secret"),
        bind("", ""),
        execute(""),
        SYNC,
      ]);
      // The first part's answers arrive if the upstream sent them before the connection was closed.
      const fatal = got.msgs.findIndex((m) => m.startsWith('ErrorResponse {"severity":"FATAL"'));
      expect(["ParseComplete {}", "BindComplete {}", 'CommandComplete {"tag":"INSERT 0 1"}'].slice(0, fatal)).toEqual(got.msgs.slice(0, fatal));
      expect(got.msgs[fatal]).toMatch(/^ErrorResponse \{"severity":"FATAL","severityNonLocalized":"FATAL","code":"42501","message":"gatehouse: hd_secret is off limits \(part of this pipeline was refused/);
      expect(got.msgs.slice(fatal + 1)).toEqual(["CLOSED"]);
    } finally {
      await g.end();
    }
    // the upstream connection ended inside the implicit transaction: the INSERT did not commit
    for (let i = 0; i < 50 && (await fixture.setup`select count(*)::int as n from pg_stat_activity where datname = 'postgres' and state like 'idle in transaction%'`)[0].n > 0; i++) await sleep(50);
    expect((await fixture.setup`select count(*)::int as n from hd_t where id = 20`)[0].n).toBe(0);
  }, 30_000);

  /**
   * Units for the denial property: each a simple Query or extended messages ending in Sync (so
   * every unit gets exactly one ReadyForQuery, and a denied one is exactly one unit). Some read or
   * write hd_secret, directly, through a named statement or SQL PREPARE.
   */
  const DENY_SQL = fc.constantFrom(
    "select s from hd_secret",
    "delete from hd_secret where id = 99",
    "select id, name from hd_t order by id",
    "insert into hd_t values (10, 'ten')",
    "update hd_t set name = 'u' where id = 1 returning id, name",
    "select 1/0",
    "begin",
    "commit",
    "rollback",
  );
  const denyUnit: fc.Arbitrary<FrontendMessage[]> = fc.oneof(
    fc
      .oneof(DENY_SQL, fc.constantFrom("prepare s1 as select s from hd_secret", "prepare s1 as select 1", "execute s1", "deallocate s1", "select count(*) from hd_t"))
      .map((t) => [q(t)]),
    fc
      .array(
        fc.oneof(
          fc.record({ name: STATEMENT, portal: PORTAL, text: DENY_SQL, maxRows: fc.constantFrom(0, 1) }).map((r) => [parse(r.name, r.text), bind(r.portal, r.name), execute(r.portal, r.maxRows)]),
          fc.record({ name: STATEMENT, portal: PORTAL }).map((r) => [bind(r.portal, r.name), execute(r.portal)]),
          fc.record({ name: STATEMENT, text: DENY_SQL }).map((r) => [parse(r.name, r.text)]),
        ),
        { minLength: 1, maxLength: 3 },
      )
      .map((runs) => [...runs.flat(), SYNC]),
  );

  it("generated sequences with denied units answer as PostgreSQL does with a bare Sync in their place", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(denyUnit, { minLength: 1, maxLength: 6 }), async (units) => {
        const seq = units.flat();
        const where = `sequence:\n${describeSequence(seq)}`;
        const { got, approvals } = await runGateway(seq, "deny");
        expect(approvals, where).toEqual([]);
        // Which units the gateway denied, read from its answers: one ReadyForQuery per unit.
        const denial = 'ErrorResponse {"severity":"ERROR","severityNonLocalized":"ERROR","code":"42501","message":"gatehouse: hd_secret is off limits"}';
        const denied: boolean[] = [];
        let current = false;
        for (const m of got.msgs) {
          if (m === denial) current = true;
          if (m.startsWith("ReadyForQuery")) {
            denied.push(current);
            current = false;
          }
        }
        expect(denied.length, where).toBe(units.length + 2); // and the harness's Sync and marker query
        // A unit that runs hd_secret in its own text is always denied; nothing is without hd_secret in the sequence.
        units.forEach((u, i) => {
          const own = u.length === 1 ? u[0].type === "Query" && u[0].text.includes("hd_secret") && !u[0].text.startsWith("prepare") : false;
          if (own) expect(denied[i], `unit ${i}\n${where}`).toBe(true);
        });
        if (!seq.some((m) => JSON.stringify(m).includes("hd_secret"))) expect(denied.some(Boolean), where).toBe(false);
        const direct = await runDirect(units.flatMap((u, i) => (denied[i] ? [SYNC] : u)));
        expect(
          got.msgs.filter((m) => m !== denial),
          where,
        ).toEqual(direct.msgs);
      }),
      {
        numRuns: Number(process.env.DENY_RUNS ?? 40),
        ...(process.env.DENY_SEED ? { seed: Number(process.env.DENY_SEED) } : {}),
        ...(process.env.DENY_PATH ? { path: process.env.DENY_PATH } : {}),
      },
    );
  }, 240_000);
});
