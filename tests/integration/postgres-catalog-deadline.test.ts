import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putPolicies } from "../support/api-fixture";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * A catalog lookup the upstream does not answer must not hold the statement for ever. The
 * embedded demo database (PGlite behind pglite-socket) serves one transaction at a time, so the
 * gateway's catalog connection waits while the client's own transaction is open: the first
 * statement after BEGIN that needs a lookup (the catalog read at session start still under way)
 * used to hang until the client gave up. Now it is decided without the answer, fail closed, and
 * the client is told why.
 */
const POLICIES = `
@id("everything")
permit (principal, action, resource);

@id("no-unknown")
@reason("statements the gateway cannot classify are refused here")
forbid (principal, action, resource)
when { context.request.kind == "unknown" };
`;

describe("PostgreSQL gateway: a catalog that does not answer", () => {
  let gh: GatehouseProcess;
  let token = "";

  beforeAll(async () => {
    gh = await startGatehouse({ env: { GATEHOUSE_PG_CATALOG_TIMEOUT_MS: process.env.CATALOG_TIMEOUT_MS ?? "1500" } });
    token = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await putPolicies(gh, token, POLICIES, "catalog deadline");
    // One function written by users: without any, the gateway knows no statement can reach user
    // code and skips the per-name lookups this is about (metadata.ts mayHaveUserCode).
    const created = await runPsql(gatewayConninfo(gh.ports.postgres, "demo-postgres", gh.adminEmail), token, ["-c", "create function deadline_probe() returns int language sql as 'select 1'"]);
    expect(created.out).toContain("CREATE FUNCTION");
  }, 120_000);

  afterAll(async () => {
    await teardown(gh);
  });

  it("a statement inside the client's open transaction is decided without the catalog's answer, not held for ever", async () => {
    // psql sends each statement by itself: BEGIN opens the session and its transaction, then the
    // SELECT, whose lookups wait behind that transaction on the demo's PGlite. (Lookups on the
    // database's relations are read ahead at the session's start, metadata.ts warm; a user
    // function's are not.)
    const done = runPsql(gatewayConninfo(gh.ports.postgres, "demo-postgres", gh.adminEmail), token, ["-A", "-t", "-f", "-"], {
      stdin: "begin;\nselect deadline_probe() from customers where name <> lower(name);\nrollback;\n",
    });
    const run = await Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
    expect(run, "psql still waiting after 20 s").not.toBeNull();
    // Unknown without the catalog (it might call user code): refused here, and said why.
    expect(run!.out).toContain("statements the gateway cannot classify are refused here");
    expect(run!.out).toContain("ROLLBACK");
  }, 60_000);
});
