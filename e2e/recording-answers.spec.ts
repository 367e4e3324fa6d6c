import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { openPglite } from "@/db/client";
import { startGatehouse, type GatehouseProcess } from "../tests/support/gatehouse";
import { RecordingScript, seedTerminalSession } from "../tests/support/terminal-recording";
import { LoginPage } from "./pages/console";

/**
 * A terminal emulator answers some of what it is shown — where the cursor is (DSR), what it is
 * (DA, XTVERSION), its settings (DECRQSS), its title (CSI 21t), its colours (OSC 10/11 ?) — by
 * "typing" the answer. xterm.js hands those answers to onData. A recording replayed in the
 * console must not get them sent anywhere: this watches every request and WebSocket frame the
 * page sends while the replay plays such a recording (and its download) in Chromium.
 */
const QUERIES = "\x1b[6n\x1b[?6n\x1b[5n\x1b[c\x1b[>c\x1b[>q\x1bP$qm\x1b\\\x1bP+q544e\x1b\\\x1b]0;title-to-report\x07\x1b[21t\x1b]10;?\x07\x1b]11;?\x1b\\\x1bZ";

function recording() {
  const s = new RecordingScript();
  s.add(0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm-256color" });
  s.output(100, "$ ");
  const t = s.type(200, "./probe");
  s.output(t + 100, `BEFORE-QUERIES\r\n${QUERIES}AFTER-QUERIES\r\n$ `);
  s.output(t + 4000, "THE-END\r\n");
  s.add(t + 4100, "term.exit", { ch: 0, code: 0 });
  s.add(t + 4101, "end", { status: "ended" });
  return s.rows;
}

let gh: GatehouseProcess;
let dataDir: string;
let sessionId: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-answers-"));
  const db = await openPglite(path.join(dataDir, "db"));
  try {
    sessionId = (await seedTerminalSession(db.db, { connectionName: "probe-host", startedAt: new Date(Date.now() - 60_000) }, recording())).id;
  } finally {
    await db.close();
  }
  gh = await startGatehouse({ dataDir, demo: false });
});

test.afterAll(async () => {
  await gh?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

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
  const sent = watchSent(page);
  await page.goto(`/sessions/${sessionId}`);
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
