import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { openPglite } from "@/db/client";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../tests/support/gatehouse";
import { RecordingScript, seedTerminalSession } from "../tests/support/terminal-recording";
import { LoginPage } from "./pages/console";

/**
 * Console follow-ups in Chromium: a replay window the browser fetched is not served again from
 * its cache once the viewer's access is gone, and text an attacker chose (a login name typed at
 * the login form, a user name synced from an identity provider) shows its bidi and zero-width
 * characters as visible tags instead of reordering what the auditor reads.
 */
const SPOOFED_EMAIL = "ops\u2067moc.live\u2069@example.test";
const PASSWORD = "followups-e2e-password";

function recording() {
  const s = new RecordingScript();
  s.add(0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm-256color" });
  s.output(100, "$ cat launch.txt\r\nTHE-LAUNCH-CODE-IS-0000\r\n$ ");
  s.add(2_000, "term.exit", { ch: 0, code: 0 });
  s.add(2_001, "end", { status: "ended" });
  return s.rows;
}

let gh: GatehouseProcess;
let dataDir: string;
let sessionId: string;
let admin: string;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-followups-"));
  const db = await openPglite(path.join(dataDir, "db"));
  try {
    sessionId = (await seedTerminalSession(db.db, { connectionName: "web-1", userEmail: SPOOFED_EMAIL, startedAt: new Date(Date.now() - 300_000) }, recording())).id;
  } finally {
    await db.close();
  }
  gh = await startGatehouse({ dataDir, demo: false });
  admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
  expect((await apiCall(gh.url, admin, "POST", "/users", { email: "auditor@example.test", password: PASSWORD, role: "auditor" })).status).toBe(200);
});

test.afterAll(async () => {
  await gh?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test("a replay window fetched in the browser is not served from its cache after the viewer loses access", async ({ browser }) => {
  const context = await browser.newContext({ baseURL: gh.url });
  const page = await context.newPage();
  await new LoginPage(page).signIn("auditor@example.test", PASSWORD);
  const url = `/api/v1/sessions/${sessionId}/replay?ch=0&from=0&span=10000`;
  const fetchWindow = () => page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: "same-origin" });
    return { status: r.status, text: await r.text() };
  }, url);
  expect((await page.evaluate(async (u) => (await fetch(u)).status, `/api/v1/sessions/${sessionId}/replay?ch=0`))).toBe(200);
  const first = await fetchWindow();
  expect(first.status).toBe(200);
  expect(first.text).toContain("THE-LAUNCH-CODE-IS-0000");
  // Still allowed: the browser revalidates and gets its copy confirmed.
  expect((await fetchWindow()).status).toBe(200);

  const users = (await apiCall(gh.url, admin, "GET", "/users")).body.users as { id: string; email: string }[];
  const auditor = users.find((u) => u.email === "auditor@example.test")!;
  expect((await apiCall(gh.url, admin, "PATCH", `/users/${auditor.id}`, { role: "member" })).status).toBe(200);

  const after = await fetchWindow();
  expect(after.status).toBe(401);
  expect(after.text).not.toContain("THE-LAUNCH-CODE-IS-0000");
  await context.close();
});

test("bidi and zero-width characters in names and audit rows are shown as visible tags", async ({ browser }) => {
  // Anyone can put text in the audit log: a failed login records the name typed.
  const typed = "admin@example.test\u202e\u200b";
  expect((await fetch(`${gh.url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: typed, password: "wrong-password-1" }) })).status).toBe(401);

  const context = await browser.newContext({ baseURL: gh.url });
  const page = await context.newPage();
  await new LoginPage(page).signIn(gh.adminEmail, gh.adminPassword);
  const invisible = () => page.evaluate(() => /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/.test(document.body.innerText));

  await page.goto("/audit");
  await expect(page.getByRole("cell", { name: "user:admin@example.test⟦U+202E⟧⟦U+200B⟧" })).toBeVisible();
  expect(await invisible()).toBe(false);

  await page.goto("/sessions");
  await expect(page.getByTestId(`session-${sessionId}`)).toContainText("ops⟦U+2067⟧moc.live⟦U+2069⟧@example.test");
  expect(await invisible()).toBe(false);

  await page.goto(`/sessions/${sessionId}`);
  await expect(page.getByText("ops⟦U+2067⟧moc.live⟦U+2069⟧@example.test from 127.0.0.1")).toBeVisible();
  expect(await invisible()).toBe(false);
  await context.close();
});
