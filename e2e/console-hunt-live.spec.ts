import { expect, test } from "@playwright/test";
import postgres from "postgres";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../tests/support/gatehouse";
import { startPostgres15, type Postgres15 } from "../tests/support/postgres";
import { appendTerminalEvents, insertTerminalSession, publishTerminalEvent } from "../tests/support/terminal-sessions";

/**
 * The live view in real Chromium, fed a recording with huge counts: the test plays the gateway
 * on a real PostgreSQL 15 (as e2e/live-terminal.spec.ts does), and a hostile remote host's
 * `CSI 2147483647 L` / `a CSI 2147483647 b` must not hang the viewer's tab.
 */
let pg: Postgres15;
let gh: GatehouseProcess;
let sql: postgres.Sql;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  pg = await startPostgres15();
  gh = await startGatehouse({ env: { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 6).toString("base64") }, demo: false });
  sql = postgres(pg.url, { max: 2, onnotice: () => {} });
});

test.afterAll(async () => {
  await sql?.end();
  await teardown(gh, pg);
});

test("huge line and repeat counts in live output do not hang the viewer's terminal", async ({ page }) => {
  const adminId = (await apiCall(gh.url, await login(gh.url, gh.adminEmail, gh.adminPassword), "GET", "/me")).body.id;
  const startedAt = Date.now() - 5_000;
  const id = await insertTerminalSession(sql, { userId: adminId, userEmail: gh.adminEmail, connection: "web-host", startedAt: new Date(startedAt) });
  let seq = 0;
  const event = (kind: string, payload: Record<string, unknown>) => ({ seq: ++seq, tMs: Date.now() - startedAt, kind, payload });
  await appendTerminalEvents(sql, id, [event("term.start", { ch: 0, mode: "shell", cols: 80, rows: 24 })]);

  await page.goto(`${gh.url}/login`);
  await page.getByLabel("Email").fill(gh.adminEmail);
  await page.getByLabel("Password").fill(gh.adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("whoami")).toHaveText(gh.adminEmail);
  await page.goto(`${gh.url}/sessions/${id}`);
  await expect(page.getByTestId("live-badge")).toBeVisible();

  const hostile = event("term.o", { ch: 0, d: "a\x1b[2147483647b\x1b[H\x1b[2147483647L\x1b[2147483647S".repeat(3) + "\x1b[H\x1b[2Jafter-hostile\r\n" });
  await appendTerminalEvents(sql, id, [hostile]);
  await publishTerminalEvent(sql, id, hostile);
  // Unbounded, xterm.js spends minutes in one parse of this event (the tab does not paint).
  await expect(page.getByTestId("live-terminal").locator(".xterm-rows")).toContainText("after-hostile", { timeout: 30_000 });
  expect(await page.evaluate(() => 1 + 1)).toBe(2);
});
