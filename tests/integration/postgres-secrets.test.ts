import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addConnection, pgUpstream } from "../support/api-fixture";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * A password written into a statement (ALTER ROLE … PASSWORD, what psql's \password sends)
 * runs upstream as written, but the recording and the approver see it redacted: recordings and
 * approval queues are read by more people than the credential is meant for.
 */
describe("credentials written into SQL statements", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let admin: string;
  let approver: string;
  const SECRET = "Pr0be-s3cret-4242";

  beforeAll(async () => {
    [gh, pg] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: "approver@example.test", password: "a-long-password-1", role: "approver", groups: ["approvers"] })).status).toBe(200);
    approver = await login(gh.url, "approver@example.test", "a-long-password-1");
    await addConnection(gh, admin, "roles-pg", { ...pgUpstream(pg) });
    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    await direct`create role probe login`;
    await direct.end();
  }, 120_000);

  afterAll(async () => {
    await teardown(gh, pg);
  });

  it("ALTER ROLE … PASSWORD: held with the password redacted, approved, run as written, recorded redacted", async () => {
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "roles-pg", username: gh.adminEmail, password: admin, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: "set-password" } });
    const running = sql.unsafe(`ALTER ROLE probe WITH PASSWORD '${SECRET}'`).then((r) => r); // postgres.js sends once awaited
    let pending: Record<string, any> | undefined;
    await expect.poll(async () => (pending = ((await apiCall(gh.url, approver, "GET", "/approvals?status=pending")).body.approvals as Record<string, any>[])[0]), { timeout: 15_000 }).toBeTruthy();
    expect(pending!.request.text).toBe("ALTER ROLE probe WITH PASSWORD '[REDACTED]'");
    expect(JSON.stringify((await apiCall(gh.url, approver, "GET", `/approvals/${pending!.id}`)).body)).not.toContain(SECRET);
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${pending!.id}/approve`, {})).status).toBe(200);
    await running;
    await sql.end();

    // It ran as written: the role logs in with the password that was never shown.
    const asProbe = postgres({ host: "127.0.0.1", port: pg.port, database: "postgres", username: "probe", password: SECRET, max: 1, onnotice: () => {} });
    expect((await asProbe`select current_user as u`)[0].u).toBe("probe");
    await asProbe.end();

    const [session] = ((await apiCall(gh.url, admin, "GET", "/sessions?connection=roles-pg")).body.sessions as { id: string; applicationName: string }[]).filter((s) => s.applicationName === "set-password");
    const events = await fetch(`${gh.url}/api/v1/sessions/${session.id}/export?format=jsonl`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.text());
    expect(events).toContain("ALTER ROLE probe WITH PASSWORD '[REDACTED]'");
    expect(events).not.toContain(SECRET);
  });

  it("through the extended protocol (Parse, Bind, Execute) the same: shown and recorded redacted", async () => {
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "roles-pg", username: gh.adminEmail, password: admin, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: "parse-password" } });
    // Parse, Bind, Execute, Sync: decided as one batch, the statement text from the Parse.
    const running = sql.unsafe(`ALTER ROLE probe WITH PASSWORD '${SECRET}-2'`, [], { prepare: true }).then((r) => r, (e: Error) => e);
    let pending: Record<string, any> | undefined;
    await expect.poll(async () => (pending = ((await apiCall(gh.url, approver, "GET", "/approvals?status=pending")).body.approvals as Record<string, any>[])[0]), { timeout: 15_000 }).toBeTruthy();
    expect(pending!.request.text).not.toContain(SECRET);
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${pending!.id}/deny`, { reason: "not now" })).status).toBe(200);
    expect(String(await running)).toMatch(/denied by approver/);
    await sql.end();
    const [session] = ((await apiCall(gh.url, admin, "GET", "/sessions?connection=roles-pg")).body.sessions as { id: string; applicationName: string }[]).filter((s) => s.applicationName === "parse-password");
    const events = await fetch(`${gh.url}/api/v1/sessions/${session.id}/export?format=jsonl`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.text());
    expect(events).toContain("[REDACTED]");
    expect(events).not.toContain(SECRET);
  });
});
