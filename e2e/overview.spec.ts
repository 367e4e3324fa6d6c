import { expect, test, type Page } from "@playwright/test";
import postgres from "postgres";
import { addConnection, pgUpstream } from "../tests/support/api-fixture";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../tests/support/gatehouse";
import { startPostgres15, type Postgres15 } from "../tests/support/postgres";
import { gatewayConninfo, runPsql } from "../tests/support/psql";

/**
 * The Overview in real Chromium against a real Gatehouse, with sessions made by real psql through
 * its PostgreSQL gateway: where the console lands, one bar per hour or day for the chosen range,
 * and a new session counted without a reload.
 */
let pg: Postgres15;
let gh: GatehouseProcess;
let token: string;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  [pg, gh] = await Promise.all([startPostgres15(), startGatehouse({ demo: false })]);
  token = await login(gh.url, gh.adminEmail, gh.adminPassword);
  await addConnection(gh, token, "app-db", pgUpstream(pg));
  for (const q of ["select 1", "select 2"]) {
    const run = await runPsql(gatewayConninfo(gh.ports.postgres, "app-db", gh.adminEmail), token, ["-A", "-t", "-c", q]);
    expect(run.code, run.stderr).toBe(0);
  }
});

test.afterAll(async () => {
  await teardown(gh, pg);
});

const bars = (page: Page, chart: string) => page.getByTestId(chart).getByTestId("bar");
/** The sum over a plot's bars (not the last bar's: the run may cross an hour or a day). */
const total = async (page: Page, chart: string) => (await bars(page, chart).evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-total"))))).reduce((a, n) => a + n, 0);

test("the console lands on the Overview; its plots follow the range and count a new session without reload", async ({ page }) => {
  await page.goto(`${gh.url}/login`);
  await page.getByLabel("Email").fill(gh.adminEmail);
  await page.getByLabel("Password").fill(gh.adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  // signing in without a destination lands on the Overview, and so does the console's root
  await expect(page).toHaveURL(`${gh.url}/overview`);
  await expect(page.getByTestId("whoami")).toHaveText(gh.adminEmail);
  await page.goto(`${gh.url}/`);
  await expect(page).toHaveURL(`${gh.url}/overview`);
  await expect(page.getByRole("heading", { name: "Overview", level: 1 })).toBeVisible();
  await expect(page.getByRole("navigation").getByRole("link").first()).toHaveText("Overview");

  // 7 days by default: a bar per day, both sessions in them, as PostgreSQL
  await expect(bars(page, "chart-sessions")).toHaveCount(7);
  await expect.poll(() => total(page, "chart-sessions")).toBe(2);
  await expect(page.getByTestId("chart-sessions").locator('rect[data-series="postgres"]').first()).toBeVisible();
  await expect(page.getByTestId("chart-sessions").locator("rect[data-series]:not([data-series=postgres])")).toHaveCount(0);
  await expect(bars(page, "chart-decisions")).toHaveCount(7);
  // each psql session: its connect and its one statement, allowed
  await expect.poll(() => total(page, "chart-decisions")).toBe(4);
  await expect(page.getByTestId("chart-decisions").locator("rect[data-series]:not([data-series=allow])")).toHaveCount(0);
  await expect(bars(page, "chart-approvals")).toHaveCount(7);
  // accessible: a named image, and the numbers as a table with a row per day
  await expect(page.getByRole("img", { name: /Sessions started per day/ })).toBeVisible();
  await expect(page.getByTestId("chart-sessions").locator("table tbody tr")).toHaveCount(7);

  await page.getByRole("button", { name: "24 hours" }).click();
  await expect(page.getByRole("button", { name: "24 hours" })).toHaveAttribute("aria-pressed", "true");
  await expect(bars(page, "chart-sessions")).toHaveCount(24);
  await expect(bars(page, "chart-decisions")).toHaveCount(24);
  await expect.poll(() => total(page, "chart-sessions")).toBe(2);
  await page.getByRole("button", { name: "30 days" }).click();
  await expect(bars(page, "chart-sessions")).toHaveCount(30);
  await page.getByRole("button", { name: "24 hours" }).click();
  await expect(bars(page, "chart-sessions")).toHaveCount(24);
  await expect(page.getByTestId("live-total")).toHaveText("0");

  // a new session while the page stays open: counted, and live, with no navigation in between
  await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
  const held = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "app-db", username: gh.adminEmail, password: token, ssl: false, max: 1, onnotice: () => {} });
  try {
    await held`select 3`;
    // within 12 s (a loaded machine can be slow to fetch and draw): the /ws/events push, not the 15 s refetch
    await expect.poll(() => total(page, "chart-sessions"), { timeout: 12_000 }).toBe(3);
    await expect(page.getByTestId("live-total")).toHaveText("1");
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
  } finally {
    await held.end({ timeout: 1 });
  }
  await expect(page.getByTestId("live-total")).toHaveText("0", { timeout: 10_000 });

  // a burst of sessions (40 start and end events) asks for the numbers at most once per 2 s (the
  // page's throttle), not per event. How long the burst lasts depends on the machine's load, so
  // the bound follows from the requests' own times: one at once, then one per 2 s, plus the 15 s
  // refetch that may fall in between. The times are taken in the test process, so the measured
  // spread can be a little short of the page's own: half a throttle period and one refresh of slack.
  await page.waitForTimeout(2500);
  const asked: number[] = [];
  page.on("request", (r) => void (r.url().includes("/api/v1/stats") && asked.push(Date.now())));
  const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => runPsql(gatewayConninfo(gh.ports.postgres, "app-db", gh.adminEmail), token, ["-A", "-t", "-c", `select ${i}`])));
  expect(burst.every((r) => r.code === 0)).toBe(true);
  await expect.poll(() => total(page, "chart-sessions"), { timeout: 10_000 }).toBe(23);
  // one refresh asks for every stats query the page shows at once: requests within 50 ms are one
  const refreshes = asked.filter((t, i) => i === 0 || t - asked[i - 1] > 50);
  const spread = asked.length ? asked[asked.length - 1] - asked[0] : 0;
  const seen = `stats requests at +${asked.map((t) => t - asked[0]).join(", +")} ms`;
  expect(refreshes.length, seen).toBeGreaterThan(0);
  expect(refreshes.length, seen).toBeLessThanOrEqual(Math.floor((spread + 500) / 2000) + 3);
  expect(refreshes.length, seen).toBeLessThan(20);
});
