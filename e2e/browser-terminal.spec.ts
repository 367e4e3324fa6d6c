import { expect, test, type Page } from "@playwright/test";
import { startSshd, type Sshd } from "../tests/support/sshd";
import { E2E } from "../playwright.config";
import { ConnectionsPage, LoginPage } from "./pages/console";
import { adminToken, ensureUser } from "./support";

/**
 * The browser SSH terminal in real Chromium, through the real gateway to a real OpenSSH sshd:
 * open it from the connections page, run a command that lands in the recording, resize, copy and
 * paste, survive a network loss, and end.
 */
test.describe.configure({ mode: "serial" });

let sshd: Sshd;
let token: string;

test.beforeAll(async ({ request }) => {
  test.setTimeout(120_000);
  sshd = await startSshd();
  token = await adminToken(request);
  const res = await request.post("/api/v1/connections", {
    headers: { authorization: `Bearer ${token}` },
    data: { name: "web-box", type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username: sshd.user, secret: sshd.password, tags: ["staging"] },
  });
  expect(res.status(), await res.text()).toBe(200);
});

test.afterAll(async () => {
  await sshd?.stop();
});

const terminal = (page: Page) => page.getByTestId("browser-terminal");
const rows = (page: Page) => terminal(page).locator(".xterm-rows");

/** Types a line into the focused terminal like a person. */
async function run(page: Page, line: string) {
  await page.keyboard.type(line);
  await page.keyboard.press("Enter");
}

async function openTerminal(page: Page) {
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
  const connections = new ConnectionsPage(page);
  await connections.open();
  await connections.row("web-box").getByRole("link", { name: "Open terminal" }).click();
  await expect(page).toHaveURL(/\/connections\/web-box\/terminal$/);
  await expect(terminal(page)).toHaveAttribute("data-phase", "ready", { timeout: 20_000 });
  await terminal(page).locator(".xterm-screen").click();
  await expect(rows(page)).toContainText(`${sshd.user}@`);
}

test("opens a shell from the connections page; what runs in it is recorded", async ({ page, request }) => {
  await openTerminal(page);
  await run(page, "echo hello-$((6*7))");
  await expect(rows(page)).toContainText("hello-42");
  const href = await terminal(page).getByRole("link", { name: "recording" }).getAttribute("href");
  const id = href!.split("/").pop()!;
  const session = await (await request.get(`/api/v1/sessions/${id}`, { headers: { authorization: `Bearer ${token}` } })).json();
  expect(session.session).toMatchObject({ connectionName: "web-box", protocol: "ssh", origin: "web-console", status: "live" });
  await expect
    .poll(async () => {
      const { events } = await (await request.get(`/api/v1/sessions/${id}/events?limit=5000`, { headers: { authorization: `Bearer ${token}` } })).json();
      return (events as { kind: string; payload: { d?: string } }[]).filter((e) => e.kind === "term.o").map((e) => e.payload.d ?? "").join("");
    })
    .toContain("hello-42");
});

test("the remote pty follows the size of the page", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await openTerminal(page);
  await run(page, "echo size=$(stty size | tr ' ' x)");
  await expect.poll(async () => (await sizeShown(page)).cols).toBeGreaterThan(0);
  const big = await sizeShown(page);
  expect(big).toEqual(await sizeOnPage(page));
  await page.setViewportSize({ width: 900, height: 500 });
  await expect.poll(async () => (await sizeOnPage(page)).cols).toBeLessThan(big.cols);
  await run(page, "clear; echo size=$(stty size | tr ' ' x)");
  // `clear` first empties the screen (no size shown yet): wait for the new size itself
  await expect
    .poll(async () => {
      const shown = await sizeShown(page);
      return shown.cols > 0 && (shown.cols !== big.cols || shown.rows !== big.rows);
    })
    .toBe(true);
  const small = await sizeShown(page);
  expect(small).toEqual(await sizeOnPage(page));
  expect(small.rows).toBeLessThan(big.rows);
});

async function sizeOnPage(page: Page) {
  return { rows: Number(await terminal(page).getAttribute("data-rows")), cols: Number(await terminal(page).getAttribute("data-cols")) };
}

async function sizeShown(page: Page) {
  const text = (await rows(page).textContent()) ?? "";
  const all = [...text.matchAll(/size=(\d+)x(\d+)/g)];
  const last = all.at(-1);
  return last ? { rows: Number(last[1]), cols: Number(last[2]) } : { rows: 0, cols: 0 };
}

test("copy with Ctrl+Shift+C and paste with Ctrl+Shift+V", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await openTerminal(page);
  await run(page, "echo copy-me-123");
  const word = rows(page).getByText("copy-me-123", { exact: true }).last();
  await expect(word).toBeVisible();
  const box = (await word.boundingBox())!;
  await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
  await page.keyboard.press("Control+Shift+C");
  await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe("copy-me-123");
  await page.evaluate(() => navigator.clipboard.writeText("pasted-from-clipboard"));
  await page.keyboard.type("echo ");
  await page.keyboard.press("Control+Shift+V");
  await page.keyboard.press("Enter");
  await expect(rows(page)).toContainText(/^.*pasted-from-clipboard.*$/m);
  await expect(rows(page).getByText("pasted-from-clipboard", { exact: true })).toHaveCount(1);
});

test("reconnects after a network loss and shows what was printed meanwhile; exit shows the reason", async ({ page, context }) => {
  await openTerminal(page);
  await run(page, "sleep 2; echo printed-while-offline");
  // The shell has echoed the line (so the server got it, Enter went out right behind it) before the
  // network goes: otherwise the last frames might never leave the browser.
  await expect(rows(page)).toContainText("sleep 2; echo printed-while-offline");
  await context.setOffline(true);
  await expect(page.getByTestId("terminal-reconnecting")).toBeVisible();
  await expect(page.getByTestId("terminal-reconnecting")).toContainText("reconnecting");
  await page.waitForTimeout(3_000);
  await context.setOffline(false);
  await expect(terminal(page)).toHaveAttribute("data-phase", "ready", { timeout: 20_000 });
  await expect(rows(page)).toContainText("printed-while-offline");
  await run(page, "echo still-the-same-shell-$$");
  await expect(rows(page)).toContainText("still-the-same-shell-");
  await run(page, "exit 3");
  await expect(page.getByTestId("terminal-exit")).toContainText("exit status 3");
});

test("an auditor watches the browser terminal live, joining mid-session", async ({ page, browser, request }) => {
  await ensureUser(request, token, { email: "watcher@e2e.test", password: "watcher-password-1", role: "auditor" });
  await openTerminal(page);
  await run(page, "echo before-the-viewer-$((40+2))");
  await expect(rows(page)).toContainText("before-the-viewer-42");
  const id = (await terminal(page).getByRole("link", { name: "recording" }).getAttribute("href"))!.split("/").pop()!;

  const watcherContext = await browser.newContext();
  const watcher = await watcherContext.newPage();
  await new LoginPage(watcher).signIn("watcher@e2e.test", "watcher-password-1");
  await watcher.goto(liveView(id));
  const live = watcher.getByTestId("live-terminal").locator(".xterm-rows");
  await expect(watcher.getByTestId("live-badge")).toBeVisible();
  await expect(live).toContainText("before-the-viewer-42");
  await run(page, "echo while-watched-$((50+5))");
  await expect(live).toContainText("while-watched-55");
  await run(page, "exit");
  // The live view says the session ended; the pushed end can turn the page into the replay
  // before that badge was ever drawn: either shows the watcher the end.
  await expect(watcher.getByTestId("ended-badge").or(watcher.getByTestId("replay-player")).first()).toBeVisible();
  await watcherContext.close();
});

/** h-replay's session page renders the live view for a live terminal session. */
const liveView = (id: string) => `/sessions/${id}`;
