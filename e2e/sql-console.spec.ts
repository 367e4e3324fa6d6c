import { expect, test, type Page } from "@playwright/test";
import { E2E } from "../playwright.config";
import { ConnectionsPage, LoginPage } from "./pages/console";
import { adminToken, apiLogin, ensureUser } from "./support";

/**
 * The browser SQL console in real Chromium, through the real PostgreSQL gateway to the demo
 * database: open it from the connections page, run statements and see their rows, keep a
 * transaction across statements, watch a held write turn into its result once an approver
 * approves it (no reload), and find it all in the session's recording.
 */
test.describe.configure({ mode: "serial" });

const APPROVER = { email: "sql-approver@e2e.test", password: "sql-approver-password-1" };
let admin: string;

test.beforeAll(async ({ request }) => {
  admin = await adminToken(request);
  await ensureUser(request, admin, { ...APPROVER, role: "approver", groups: ["approvers"] });
  // The demo database once more, tagged prod: writes there are held for an approver by the default policies.
  const listed = await (await request.get("/api/v1/connections", { headers: { authorization: `Bearer ${admin}` } })).json();
  const demo = (listed.connections as { name: string; upstream: string; username: string }[]).find((c) => c.name === "demo-postgres")!;
  const res = await request.post("/api/v1/connections", { headers: { authorization: `Bearer ${admin}` }, data: { name: "demo-prod", type: "postgres", upstream: demo.upstream, username: demo.username, secret: "demo", tags: ["prod"] } });
  expect([200, 409], await res.text()).toContain(res.status());
});

const sqlConsole = (page: Page) => page.getByTestId("sql-console");
const entries = (page: Page) => page.getByTestId("sql-entry");

async function openConsole(page: Page, connection: string) {
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
  const connections = new ConnectionsPage(page);
  await connections.open();
  await connections.row(connection).getByRole("link", { name: "Open SQL console" }).click();
  await expect(page).toHaveURL(new RegExp(`/connections/${connection}/sql$`));
  await expect(sqlConsole(page)).toHaveAttribute("data-phase", "ready", { timeout: 20_000 });
}

/** Types `sql` into the editor and runs it with Ctrl+Enter, as a person would. */
async function runSql(page: Page, sql: string) {
  const editor = page.getByRole("textbox", { name: "SQL" });
  await editor.fill(sql);
  await editor.press("Control+Enter");
}

test("runs statements from the connections page and shows their rows; a transaction carries over", async ({ page }) => {
  await openConsole(page, "demo-postgres");
  await runSql(page, "select id, name from customers order by id limit 3");
  const first = entries(page).first();
  await expect(first).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  await expect(first.locator("th")).toHaveText(["id", "name"]);
  await expect(first.locator("tbody tr")).toHaveCount(3);
  await expect(first).toContainText("SELECT · 3 rows");

  // The statements share one connection: inside the transaction a previous run opened, now() stands still.
  await runSql(page, "begin");
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  const now = async () => {
    await runSql(page, "select now()::text as t");
    await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
    return entries(page).first().locator("tbody td").innerText();
  };
  const t1 = await now();
  expect(await now()).toBe(t1);
  await runSql(page, "commit");
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  expect(await now()).not.toBe(t1);
});

test("a held write shows the approval link, then its result once an approver approves it, without a reload", async ({ page, request }) => {
  await openConsole(page, "demo-prod");
  await runSql(page, "update customers set name = name where id = 1");
  const entry = entries(page).first();
  await expect(entry).toHaveAttribute("data-status", "held", { timeout: 15_000 });
  const link = entry.getByRole("link", { name: "Open the approval request" });
  const approvalId = (await link.getAttribute("href"))!.split("/").pop()!;
  const approver = await apiLogin(request, APPROVER.email, APPROVER.password);
  const approved = await request.post(`/api/v1/approvals/${approvalId}/approve`, { headers: { authorization: `Bearer ${approver}` }, data: { reason: "fine" } });
  expect(approved.status(), await approved.text()).toBe(200);
  await expect(entry).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  await expect(entry).toContainText("UPDATE · 1 row");

  // All of it is the session's recording: origin web-console, the statement, its approval.
  const href = await sqlConsole(page).getByRole("link", { name: "recording" }).getAttribute("href");
  const id = href!.split("/").pop()!;
  const session = await (await request.get(`/api/v1/sessions/${id}`, { headers: { authorization: `Bearer ${admin}` } })).json();
  expect(session.session).toMatchObject({ connectionName: "demo-prod", protocol: "postgres", origin: "web-console", applicationName: "browser sql console" });
  // Recorded events reach the database in batches: the result can be on screen a moment before them.
  const events = async () => (await (await request.get(`/api/v1/sessions/${id}/events`, { headers: { authorization: `Bearer ${admin}` } })).json()).events as { kind: string; payload: Record<string, unknown> }[];
  await expect.poll(async () => (await events()).some((e) => e.kind === "request" && e.payload.text === "update customers set name = name where id = 1")).toBe(true);
  await expect.poll(async () => (await events()).some((e) => e.kind === "approval" && e.payload.status === "approved")).toBe(true);
});

test("after a network loss the page reconnects to the same session: the transaction and a statement run meanwhile carry on", async ({ page, context }) => {
  // What the page sends over the console's sockets: the statement must have left the browser
  // before the network goes, or it never reaches the server.
  const sent: string[] = [];
  page.on("websocket", (ws) => {
    if (new URL(ws.url()).pathname.startsWith("/ws/sql/")) ws.on("framesent", (f) => void sent.push(String(f.payload)));
  });
  await openConsole(page, "demo-postgres");
  // Opens the session before the transaction: the demo's PGlite answers the gateway's catalog
  // lookups only outside a client's transaction (README, "what is not supported yet").
  await runSql(page, "select 1");
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  await runSql(page, "begin");
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  await runSql(page, "select now()::text as t");
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  const tx = await entries(page).first().locator("tbody td").innerText();

  await runSql(page, "select pg_sleep(2), 'answered-while-offline' as marker");
  await expect.poll(() => sent.some((p) => p.includes('"type":"run"') && p.includes("answered-while-offline"))).toBe(true);
  await context.setOffline(true);
  await expect(page.getByTestId("sql-reconnecting")).toContainText("reconnecting");
  await expect(sqlConsole(page)).toHaveAttribute("data-phase", "reconnecting");
  await page.waitForTimeout(3_000);
  await context.setOffline(false);
  await expect(sqlConsole(page)).toHaveAttribute("data-phase", "ready", { timeout: 20_000 });
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  await expect(entries(page).first()).toContainText("answered-while-offline");

  await runSql(page, "select now()::text as t");
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  await expect(entries(page).first().locator("tbody td")).toHaveText(tx);
  await runSql(page, "commit");
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
});

test("loads the schema through the gateway; the editor then completes table and column names", async ({ page }) => {
  await openConsole(page, "demo-postgres");
  await page.getByRole("button", { name: "Load schema" }).click();
  // The catalog query is a statement like any other: listed, decided and recorded.
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  await expect(entries(page).first()).toContainText("information_schema.columns");
  const schema = page.getByRole("navigation", { name: "Schema" });
  await expect(schema.getByRole("button", { name: "customers", exact: true })).toBeVisible();

  const editor = page.getByRole("textbox", { name: "SQL" });
  await editor.fill("");
  await editor.pressSequentially("select ema");
  // Enter accepts the selected completion (CodeMirror ignores it for 75 ms after the list opens,
  // against accidental accepts: a person does not press it that fast, a test must wait).
  const accept = async (option: RegExp) => {
    await expect(page.getByRole("listbox").getByRole("option", { name: option, selected: true })).toBeVisible();
    await page.waitForTimeout(150);
    await page.keyboard.press("Enter");
  };
  await accept(/^email/);
  await editor.pressSequentially(" from custo");
  await accept(/^customers/);
  await expect(editor).toHaveText("select email from customers");
  await editor.press("Control+Enter");
  await expect(entries(page).first()).toHaveAttribute("data-status", "done", { timeout: 15_000 });
  await expect(entries(page).first().locator("th")).toHaveText(["email"]);

  // A name picked in the schema list goes into the editor too.
  await editor.fill("select * from ");
  await schema.getByRole("button", { name: "customers", exact: true }).click();
  await expect(editor).toHaveText("select * from customers");
});
