import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { connectOutcome, gatewayClient, runOnce } from "../support/gateway-pg";
import { createDatabase, startPostgres15, type Postgres15 } from "../support/postgres";
import { putPolicies } from "../support/api-fixture";

/**
 * Bypass hunt on the policy path: what a held request runs under once it is approved, how
 * requests become Cedar input, and what a decision may be reused for. A real Gatehouse process
 * (embedded store, demo PostgreSQL upstream) and postgres.js.
 *
 * demo-postgres is tagged `prod`, so a person's write there is held for one approver by the
 * default policies; WRITERS_ONLY adds a forbid that keys on group membership.
 */
const WRITERS_ONLY = `${DEFAULT_POLICIES}
@id("writers-only")
@reason("only writers change demo data")
forbid (principal, action == Gatehouse::Action::"write", resource)
when { resource.tags.contains("demo") }
unless { principal in Gatehouse::Group::"writers" };
`;

const PASSWORD = "a-long-password-1";
const DEV = "dev@example.test";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("bypass hunt: the policy path", () => {
  let gh: GatehouseProcess;
  let admin: string;
  let approver: string;
  let dev: string;
  const open: postgres.Sql[] = [];

  const pg = (password: string, user: string) => gatewayClient(gh.ports.postgres, { password, user, track: open });
  const setPolicies = (text: string, comment: string) => putPolicies(gh, admin, text, comment);
  /** Starts `text`; resolves with the approval id once it is held, and the statement's outcome. */
  async function held(c: { sql: postgres.Sql; notices: string[] }, text: string) {
    const done = c.sql.unsafe(text).then(
      () => "ran",
      (e: Error) => e.message,
    );
    for (let i = 0; i < 400; i++) {
      const m = c.notices.map((n) => /held for approval #(\d+)/.exec(n)).find(Boolean);
      if (m) return { id: Number(m[1]), done };
      const early = await Promise.race([done, sleep(25).then(() => null)]);
      if (early !== null) throw new Error(`not held: ${early}`);
    }
    throw new Error("not held within 10 s");
  }
  /** What the upstream holds, read directly by the admin (a person's read is allowed). */
  async function countryOf(id: number): Promise<string> {
    const { sql } = pg(admin, gh.adminEmail);
    try {
      const [row] = await sql.unsafe(`select country from customers where id = ${id}`);
      return row.country as string;
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  beforeAll(async () => {
    gh = await startGatehouse({ env: { GATEHOUSE_APPROVAL_TTL_SECONDS: "60" } });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [email, role, groups] of [
      [DEV, "member", ["writers"]],
      ["approver@example.test", "approver", ["approvers"]],
    ] as const) {
      const res = await apiCall(gh.url, admin, "POST", "/users", { email, password: PASSWORD, role, groups });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    approver = await login(gh.url, "approver@example.test", PASSWORD);
    dev = await login(gh.url, DEV, PASSWORD);
    expect((await apiCall(gh.url, admin, "PATCH", "/connections/demo-postgres", { tags: ["demo", "pii", "prod"] })).status).toBe(200);
    await setPolicies(WRITERS_ONLY, "policy bypass hunt");
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(open.map((s) => s.end({ timeout: 1 })));
    await teardown(gh);
  });

  it("a write held under one policy version and approved after a version that forbids it does not run", async () => {
    const c = pg(dev, DEV);
    const before = await countryOf(1);
    const hold = await held(c, "update customers set country = 'H1' where id = 1");
    try {
      await setPolicies(`${WRITERS_ONLY}\n@id("freeze") @reason("demo data is frozen")\nforbid (principal, action == Gatehouse::Action::"write", resource)\nwhen { resource.tags.contains("prod") };\n`, "freeze");
      expect((await apiCall(gh.url, approver, "POST", `/approvals/${hold.id}/approve`, {})).status).toBe(200);
      expect(await hold.done).toMatch(/demo data is frozen/);
      expect(await countryOf(1)).toBe(before);
    } finally {
      await setPolicies(WRITERS_ONLY, "unfreeze");
    }
  });

  it("a write held while its user was a writer and approved after they were removed from the group does not run", async () => {
    const c = pg(dev, DEV);
    const before = await countryOf(2);
    const hold = await held(c, "update customers set country = 'H2' where id = 2");
    try {
      expect((await apiCall(gh.url, admin, "PATCH", `/users/${DEV}`, { groups: [] })).status).toBe(200);
      expect((await apiCall(gh.url, approver, "POST", `/approvals/${hold.id}/approve`, {})).status).toBe(200);
      expect(await hold.done).toMatch(/only writers change demo data/);
      expect(await countryOf(2)).toBe(before);
    } finally {
      await apiCall(gh.url, admin, "PATCH", `/users/${DEV}`, { groups: ["writers"] });
    }
  });

  it("a FETCH is decided with its cursor's tables: a cursor declared before a forbid on its table reads no further rows", async () => {
    const { sql } = pg(dev, DEV);
    const conn = await sql.reserve();
    try {
      await conn.unsafe("begin");
      await conn.unsafe("declare c cursor for select name from customers order by id");
      expect(await conn.unsafe("fetch 1 from c")).toHaveLength(1);
      await setPolicies(`${WRITERS_ONLY}\n@id("customers-closed") @reason("customers are closed")\nforbid (principal, action == Gatehouse::Action::"read", resource)\nwhen { context.request.tables.contains("customers") };\n`, "close customers");
      await expect(conn.unsafe("fetch 1 from c")).rejects.toThrow(/customers are closed/);
      // the simple query protocol too
      await expect(conn.unsafe("fetch 1 from c").simple()).rejects.toThrow(/customers are closed/);
      // (control) a FETCH from a cursor over another table is not caught by it
      await conn.unsafe("declare o cursor for select total from orders order by id");
      expect(await conn.unsafe("fetch 1 from o").simple()).toHaveLength(1);
    } finally {
      // the demo upstream (PGlite) serves one transaction at a time: end it
      await conn.unsafe("rollback").catch(() => {});
      conn.release();
      await setPolicies(WRITERS_ONLY, "customers open");
    }
  });

  it("a session whose connect was approved ends when the policy then asks for two approvals of it; an equal hold keeps it", async () => {
    const GATED = "gated@example.test";
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: GATED, password: PASSWORD, role: "member", groups: [] })).status).toBe(200);
    const gated = await login(gh.url, GATED, PASSWORD);
    const connectHeld = (extra: string) => `${WRITERS_ONLY}\n@id("gated-connect")\n@hold("approvers")\n${extra}permit (principal == Gatehouse::User::"${GATED}", action == Gatehouse::Action::"connect", resource);\n`;
    await setPolicies(connectHeld(""), "gated connect");
    const { sql } = pg(gated, GATED);
    try {
      const first = sql`select 1 as one`.then((rows) => [...rows]);
      let id: number | undefined;
      await expect
        .poll(async () => (id = ((await apiCall(gh.url, approver, "GET", "/approvals?status=pending")).body.approvals as Record<string, unknown>[]).find((a) => JSON.stringify(a).includes(GATED))?.id as number | undefined), { timeout: 10_000 })
        .toBeTruthy();
      expect((await apiCall(gh.url, approver, "POST", `/approvals/${id}/approve`, {})).status).toBe(200);
      expect(await first).toEqual([{ one: 1 }]);
      // the same requirement saved again (a new version): the session stands
      await setPolicies(connectHeld("// unchanged\n"), "gated connect, same hold");
      await sleep(500);
      expect(await sql`select 2 as two`).toEqual([{ two: 2 }]);
      await setPolicies(connectHeld(`@approvals("2")\n`), "gated connect, two approvers");
      await expect.poll(() => sql`select 3`.then(() => "ran", (e: Error) => e.message), { timeout: 10_000 }).not.toBe("ran");
    } finally {
      await sql.end({ timeout: 1 });
      await setPolicies(WRITERS_ONLY, "ungated");
    }
  });

  it("held: a write held in a session whose token is then revoked does not run when an approver approves", async () => {
    const personal = await apiCall(gh.url, dev, "POST", "/tokens", { name: "revoked-while-held", ttlSeconds: 3600 });
    expect(personal.status, JSON.stringify(personal.body)).toBe(200);
    const c = pg(personal.body.token, DEV);
    const before = await countryOf(5);
    const hold = await held(c, "update customers set country = 'H5' where id = 5");
    expect((await apiCall(gh.url, dev, "DELETE", `/tokens/${personal.body.id}`)).status).toBe(200);
    const approved = await apiCall(gh.url, approver, "POST", `/approvals/${hold.id}/approve`, {});
    expect(approved.status).not.toBe(500);
    expect(await hold.done).not.toBe("ran");
    expect(await countryOf(5)).toBe(before);
  });

  it("a write held for one approval does not run on that one once the policy asks for two", async () => {
    const c = pg(dev, DEV);
    const before = await countryOf(4);
    const hold = await held(c, "update customers set country = 'H4' where id = 4");
    try {
      await setPolicies(WRITERS_ONLY.replace(`@id("prod-write-approval")\n@hold("approvers")`, `@id("prod-write-approval")\n@hold("approvers")\n@approvals("2")`), "two approvers");
      expect((await apiCall(gh.url, approver, "POST", `/approvals/${hold.id}/approve`, {})).status).toBe(200);
      expect(await hold.done).toMatch(/approval/);
      expect(await countryOf(4)).toBe(before);
    } finally {
      await setPolicies(WRITERS_ONLY, "one approver");
    }
  });
});

/**
 * Several Gatehouse processes share one PostgreSQL store and learn of a saved policy version over
 * LISTEN/NOTIFY, which is best effort: a LISTEN connection that drops and reconnects misses what
 * was sent meanwhile. Here another process's save is a row written straight into the store with
 * no notification at all (the notification lost); the gateway must still come to enforce it.
 */
describe("bypass hunt: a policy version whose notification was lost", () => {
  let gh: GatehouseProcess;
  let pg: Postgres15;
  let store: postgres.Sql;
  let admin: string;
  let dev: string;

  beforeAll(async () => {
    pg = await startPostgres15();
    const storeUrl = await createDatabase(pg, "gh_store");
    gh = await startGatehouse({ env: { DATABASE_URL: storeUrl, GATEHOUSE_POLICY_POLL_MS: "500" } });
    store = postgres(storeUrl, { max: 1, onnotice: () => {} });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: DEV, password: PASSWORD, role: "member", groups: [] })).status).toBe(200);
    dev = await login(gh.url, DEV, PASSWORD);
  }, 180_000);

  afterAll(async () => {
    await store?.end({ timeout: 1 });
    await teardown(gh, pg);
  });

  const NO_TYPES = { fetch_types: false };
  const read = () => connectOutcome(gh.ports.postgres, { password: dev, user: DEV, options: NO_TYPES });

  it("a version saved by another process is enforced even when its policy.changed never arrives", async () => {
    expect(await read()).toBe("ok");
    const closed = `${DEFAULT_POLICIES}\n@id("reads-closed") @reason("reads are closed")\nforbid (principal, action == Gatehouse::Action::"read", resource);\n`;
    await store.unsafe("insert into policy_versions (version, text, comment) select max(version) + 1, $1, 'saved elsewhere' from policy_versions", [closed]);
    await expect.poll(read, { timeout: 20_000, interval: 500 }).toMatch(/reads are closed/);
    await store.unsafe("insert into policy_versions (version, text, comment) select max(version) + 1, $1, 'reopened elsewhere' from policy_versions", [DEFAULT_POLICIES]);
    await expect.poll(read, { timeout: 20_000, interval: 500 }).toBe("ok");
  });

  it("a live session ends when its token is revoked or its user leaves the group policy needs, even when the messages never arrive", async () => {
    const personal = await apiCall(gh.url, dev, "POST", "/tokens", { name: "live-lost-notify", ttlSeconds: 3600 });
    expect(personal.status, JSON.stringify(personal.body)).toBe(200);
    const open = () => gatewayClient(gh.ports.postgres, { password: personal.body.token, user: DEV, options: NO_TYPES }).sql;
    const ask = (sql: postgres.Sql) => sql.unsafe("select 1").then(() => "ran", (e: Error) => e.message);

    // group membership: a policy lets only the group "ledger" in; DEV is removed from it in the store
    await store.unsafe("insert into groups (name) values ('ledger') on conflict do nothing");
    await store.unsafe("insert into memberships (user_id, group_id) select u.id, g.id from users u, groups g where u.email = $1 and g.name = 'ledger'", [DEV]);
    await store.unsafe("insert into policy_versions (version, text, comment) select max(version) + 1, $1, 'ledger only' from policy_versions", [`${DEFAULT_POLICIES}\n@id("ledger-only") @reason("ledger members only")\nforbid (principal, action == Gatehouse::Action::"connect", resource)\nunless { principal in Gatehouse::Group::"ledger" };\n`]);
    const member = open();
    try {
      await expect.poll(() => ask(member), { timeout: 20_000, interval: 500 }).toBe("ran");
      await store.unsafe("delete from memberships where user_id = (select id from users where email = $1)", [DEV]);
      await expect.poll(() => ask(member), { timeout: 20_000, interval: 500 }).not.toBe("ran");
    } finally {
      await member.end({ timeout: 1 });
      await store.unsafe("insert into policy_versions (version, text, comment) select max(version) + 1, $1, 'defaults' from policy_versions", [DEFAULT_POLICIES]);
    }

    // token revocation
    const revokable = open();
    try {
      await expect.poll(() => ask(revokable), { timeout: 20_000, interval: 500 }).toBe("ran");
      await store.unsafe("update tokens set revoked_at = now() where id = $1", [personal.body.id]);
      await expect.poll(() => ask(revokable), { timeout: 20_000, interval: 500 }).not.toBe("ran");
    } finally {
      await revokable.end({ timeout: 1 });
    }
  });

  it("a masking rule added by another process applies even when its masking.changed never arrives", async () => {
    // agents read through the "pii" rule set (default policies)
    const personal = await apiCall(gh.url, dev, "POST", "/tokens", { name: "masking-lost-notify", ttlSeconds: 3600 });
    expect(personal.status, JSON.stringify(personal.body)).toBe(200);
    const agent = (await exchangeToken(gh.url, personal.body.token, "claude")).access_token;
    const nameOf1 = async () => (await runOnce(gh.ports.postgres, { password: agent, user: DEV, options: NO_TYPES }, "select name from customers where id = 1"))[0].name as string;
    const plain = await nameOf1();
    expect(plain).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
    await store.unsafe(`insert into masking_rules (name, rule_set, definition) values ('names-elsewhere', 'pii', '{"detectors": [], "columns": ["customers.name"], "style": "redact"}')`);
    await expect.poll(nameOf1, { timeout: 20_000, interval: 500 }).not.toBe(plain);
  });
});
