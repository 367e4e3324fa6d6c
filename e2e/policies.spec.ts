import { expect, test } from "@playwright/test";
import postgres from "postgres";
import { E2E } from "../playwright.config";
import { LoginPage } from "./pages/console";
import { adminToken } from "./support";

test("policy editor validates as you type, saves a version, and the simulator explains verdicts", async ({ page }) => {
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
  await page.getByRole("link", { name: "Policies" }).click();
  const editor = page.getByLabel("Cedar policies");
  await expect(page.getByTestId("policy-validation")).toContainText("valid");

  const original = await editor.inputValue();
  await editor.fill(original + "\npermit(principal, action == Gatehouse::Action::\"nonsense\", resource);");
  await expect(page.getByTestId("policy-validation")).toContainText("error");
  await expect(page.getByTestId("policy-problems")).toContainText("line");

  await editor.fill(original + '\n@id("e2e-extra")\n@reason("no truncation in e2e")\nforbid(principal, action, resource) when { context.request.text like "*TRUNCATE*" };');
  await expect(page.getByTestId("policy-validation")).toContainText("valid");
  await page.getByPlaceholder("What changed and why").fill("e2e: forbid truncate");
  await page.getByRole("button", { name: /Save as v/ }).click();
  await expect(page.getByText("e2e: forbid truncate")).toBeVisible();

  await page.getByLabel("Connection").selectOption("demo-postgres");
  await page.locator('textarea[name="statement"]').fill("TRUNCATE customers");
  await page.getByRole("button", { name: "Simulate" }).click();
  await expect(page.getByTestId("simulation-result")).toContainText("deny");
  await expect(page.getByTestId("simulation-result")).toContainText("e2e-extra");

  await page.locator('textarea[name="statement"]').fill("SELECT name FROM customers");
  await page.locator('input[name="agents"]').fill("claude");
  await page.getByRole("button", { name: "Simulate" }).click();
  await expect(page.getByTestId("simulation-result")).toContainText("mask");
});

test("masking rule editor previews live and the rule masks stored text", async ({ page }) => {
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
  await page.getByRole("link", { name: "Masking" }).click();
  await expect(page.getByTestId("rule-pii-identifiers")).toBeVisible();
  await expect(page.getByTestId("masking-preview")).not.toContainText("123-45-6789");
  await page.getByRole("button", { name: "New rule" }).click();
  await page.getByLabel("Name", { exact: true }).fill("e2e-project-codes");
  await page.getByLabel("Rule set", { exact: true }).fill("e2e");
  await page.getByLabel("Custom regexes").fill("PRJ-[0-9]{4}");
  await page.getByLabel("Sample text").first().fill("ticket PRJ-1234 is secret");
  await expect(page.getByTestId("rule-preview")).toHaveText("ticket [REDACTED:custom] is secret");
  await page.getByRole("button", { name: "Save rule" }).click();
  await expect(page.getByTestId("rule-e2e-project-codes")).toBeVisible();
});

test("a masking rule that blocks inference: set in the editor, shown in the list, kept when edited again", async ({ page, request }) => {
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
  await page.getByRole("link", { name: "Masking" }).click();
  await page.getByRole("button", { name: "New rule" }).click();
  await page.getByLabel("Name", { exact: true }).fill("e2e-guarded-ssn");
  await page.getByLabel("Rule set", { exact: true }).fill("e2e-guarded");
  await page.getByRole("textbox", { name: /^Columns/ }).fill("customers.ssn");
  await page.getByLabel(/Block inference/).check();
  await page.getByRole("button", { name: "Save rule" }).click();
  const row = page.getByTestId("rule-e2e-guarded-ssn");
  await expect(row).toContainText("blocks inference");
  const { rules } = (await (await request.get(`${E2E.url}/api/v1/masking`, { headers: { authorization: `Bearer ${await adminToken(request)}` } })).json()) as { rules: { name: string; definition: { blockInference?: boolean } }[] };
  expect(rules.find((r) => r.name === "e2e-guarded-ssn")?.definition.blockInference).toBe(true);
  await row.getByRole("button", { name: "Edit" }).click();
  await expect(page.getByLabel(/Block inference/)).toBeChecked();
});

test("before saving, the editor lists the live sessions the edited policies would end; saved, they end and say why", async ({ page, request }) => {
  const token = await adminToken(request);
  const port = new URL(E2E.url).port;
  // a live PostgreSQL session through the gateway, as the admin
  const sql = postgres({ host: "127.0.0.1", port: Number(port) + 1, database: "demo-postgres", username: E2E.adminEmail, password: token, ssl: false, max: 1, connection: { application_name: "e2e-impact" }, onnotice: () => {} });
  try {
    await sql`select 1`;
    await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
    await page.getByRole("link", { name: "Policies" }).click();
    const editor = page.getByLabel("Cedar policies");
    await expect(page.getByTestId("policy-validation")).toContainText("valid");
    const original = await editor.inputValue();
    const save = async (comment: string) => {
      await page.getByPlaceholder("What changed and why").fill(comment);
      await page.getByRole("button", { name: /Save as v/ }).click();
      await expect(page.getByText(comment)).toBeVisible();
    };

    await editor.fill(original + '\n@id("e2e-harmless")\nforbid(principal, action, resource) when { context.request.text like "*e2e-never*" };');
    await expect(page.getByTestId("policy-impact")).toContainText(/Saving ends none of the [1-9]\d* live session/);

    await editor.fill(original + '\n@id("e2e-close-demo")\n@reason("demo is closed")\nforbid(principal, action == Gatehouse::Action::"connect", resource) when { resource.name == "demo-postgres" };');
    const impact = page.getByTestId("policy-impact");
    await expect(impact).toContainText("Saving ends");
    await expect(impact).toContainText(`${E2E.adminEmail} on demo-postgres (postgres): session — demo is closed`);
    // not saved yet: the session goes on
    expect(await sql`select 2 as two`).toEqual([{ two: 2 }]);

    // saved: the session ends, then the previous text is restored
    await save("e2e: close demo");
    await expect.poll(() => sql`select 3`.then(() => "open", () => "ended")).toBe("ended");
    await editor.fill(original);
    await save("e2e: reopen demo");

    // the session page says what ended it and why
    const found = await request.get("/api/v1/sessions?connection=demo-postgres&status=killed&q=e2e-impact", { headers: { authorization: `Bearer ${token}` } });
    const [ended] = (await found.json()).sessions as { id: string }[];
    await page.goto(`/sessions/${ended.id}`);
    await expect(page.getByTestId("event-timeline")).toContainText(/the session is no longer allowed: demo is closed \(policy version \d+ was installed\)/);

    // an older version in the history says what rolling back to it would end
    await page.goto("/policies");
    await page.getByRole("button", { name: /^v1\b/ }).click();
    await expect(page.getByTestId("rollback-impact")).toContainText(/Rolling back to it ends none of the \d+ live session/);
  } finally {
    await sql.end({ timeout: 1 });
  }
});
