import { expect, test } from "@playwright/test";
import { E2E } from "../playwright.config";
import { LoginPage } from "./pages/console";

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
