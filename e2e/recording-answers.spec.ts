import fs from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import postgres from "postgres";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../tests/support/gatehouse";
import { startPostgres15, type Postgres15 } from "../tests/support/postgres";
import { appendTerminalEvents, endTerminalSession, insertTerminalSession, publishTerminalEvent, type TermEvent } from "../tests/support/terminal-sessions";
import { LoginPage } from "./pages/console";

/**
 * A terminal emulator answers some of what it is shown — where the cursor is (DSR), what it is
 * (DA, XTVERSION), its settings (DECRQSS), its title (CSI 21t), its colours (OSC 10/11 ?) — by
 * "typing" the answer. xterm.js hands those answers to onData. A recording shown in the console,
 * replayed (asciinema-player) or watched live (xterm.js), must not get them sent anywhere: this
 * watches every request and WebSocket frame the page sends meanwhile, in Chromium.
 */
const QUERIES = "\x1b[6n\x1b[?6n\x1b[5n\x1b[c\x1b[>c\x1b[>q\x1bP$qm\x1b\\\x1bP+q544e\x1b\\\x1b]0;title-to-report\x07\x1b[21t\x1b]10;?\x07\x1b]11;?\x1b\\\x1bZ";

let pg: Postgres15;
let gh: GatehouseProcess;
let sql: postgres.Sql;
let adminId: string;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  pg = await startPostgres15();
  gh = await startGatehouse({ env: { DATABASE_URL: pg.url }, demo: false });
  sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  adminId = (await apiCall(gh.url, await login(gh.url, gh.adminEmail, gh.adminPassword), "GET", "/me")).body.id;
});

test.afterAll(async () => {
  await sql?.end();
  await gh?.stop();
  await pg?.stop();
  if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
});

/** A terminal session as the SSH gateway's recorder writes it; `t` in ms since it started. */
async function recordedSession(startedAgoMs: number, events: [number, string, Record<string, unknown>][]) {
  const id = await insertTerminalSession(sql, { userId: adminId, userEmail: gh.adminEmail, connection: "probe-host", startedAt: new Date(Date.now() - startedAgoMs) });
  let seq = 0;
  const rows: TermEvent[] = events.map(([tMs, kind, payload]) => ({ seq: ++seq, tMs, kind, payload }));
  await appendTerminalEvents(sql, id, rows);
  return { id, next: () => ++seq };
}

/** Everything the page sends: request bodies and URLs, and WebSocket frames. */
function watchSent(page: Page) {
  const sent: string[] = [];
  page.on("request", (r) => sent.push(`${r.method()} ${r.url()} ${r.postData() ?? ""}`));
  page.on("websocket", (ws) => ws.on("framesent", (f) => sent.push(`ws ${ws.url()} ${typeof f.payload === "string" ? f.payload : f.payload.toString("latin1")}`)));
  return sent;
}

// An answer starts with ESC (or its 8-bit CSI/DCS forms), or carries what was asked for.
const ANSWER = /[\x1b\x9b\x90]|title-to-report|\[\?1;2c|rgb:/;

test("replaying a recording full of terminal queries sends none of the terminal's answers anywhere", async ({ browser }) => {
  const context = await browser.newContext({ baseURL: gh.url });
  const page = await context.newPage();
  await new LoginPage(page).signIn(gh.adminEmail, gh.adminPassword);
  const { id } = await recordedSession(60_000, [
    [0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm-256color" }],
    [100, "term.o", { ch: 0, d: "$ ./probe\r\nBEFORE-QUERIES\r\n" }],
    [600, "term.o", { ch: 0, d: `${QUERIES}AFTER-QUERIES\r\n$ ` }],
    [4000, "term.o", { ch: 0, d: "THE-END\r\n" }],
    [4100, "term.exit", { ch: 0, code: 0 }],
  ]);
  await endTerminalSession(sql, id);
  const sent = watchSent(page);
  await page.goto(`/sessions/${id}`);
  const player = page.getByTestId("replay-player");
  await expect(player).toHaveAttribute("data-first-frame-ms", /\d+/);
  await page.locator('[data-testid="replay-player"] .ap-playback-button').click();
  const screen = page.locator('[data-testid="replay-player"] .ap-term-text');
  await expect(screen).toContainText("AFTER-QUERIES", { timeout: 15_000 });
  await expect(screen).toContainText("THE-END", { timeout: 15_000 });
  // the player has the keyboard: typing into it must not carry answers either
  await player.click();
  await page.keyboard.type("x");
  await page.waitForTimeout(500);
  expect(sent.length).toBeGreaterThan(0);
  expect(sent.filter((s) => ANSWER.test(decodeURIComponent(s.replace(/%(?![0-9a-f]{2})/gi, "%25"))))).toEqual([]);
});

test("watching a live session full of terminal queries sends none of the terminal's answers anywhere", async ({ browser }) => {
  const context = await browser.newContext({ baseURL: gh.url });
  const page = await context.newPage();
  await new LoginPage(page).signIn(gh.adminEmail, gh.adminPassword);
  const started = Date.now() - 5_000;
  const session = await recordedSession(5_000, [[0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm-256color" }], [100, "term.o", { ch: 0, d: `TAIL-START\r\n${QUERIES}TAIL-END\r\n` }]]);
  const sent = watchSent(page);
  await page.goto(`/sessions/${session.id}`);
  const screen = page.getByTestId("live-terminal").locator(".xterm-rows");
  await expect(screen).toContainText("TAIL-END", { timeout: 15_000 });
  const live: TermEvent = { seq: session.next(), tMs: Date.now() - started, kind: "term.o", payload: { ch: 0, d: `${QUERIES}LIVE-END\r\n` } };
  await appendTerminalEvents(sql, session.id, [live]);
  await publishTerminalEvent(sql, session.id, live);
  await expect(screen).toContainText("LIVE-END", { timeout: 15_000 });
  // the view is read-only: typing into it carries nothing either
  await page.getByTestId("live-terminal").click({ force: true });
  await page.keyboard.type("x");
  await page.waitForTimeout(500);
  expect(sent.some((s) => s.startsWith("ws "))).toBe(false); // the live socket sends nothing at all…
  expect(sent.filter((s) => ANSWER.test(decodeURIComponent(s.replace(/%(?![0-9a-f]{2})/gi, "%25"))))).toEqual([]); // …and no request carries an answer
  await endTerminalSession(sql, session.id);
});
