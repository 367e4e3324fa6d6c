import { expect, test } from "@playwright/test";
import { E2E } from "../playwright.config";
import { ConnectionsPage, LoginPage, TokensPage } from "./pages/console";

test("log in, create a connection, create a token, log out", async ({ page, request }) => {
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
  await expect(page.getByTestId("whoami")).toHaveText(E2E.adminEmail);

  const connections = new ConnectionsPage(page);
  await connections.open();
  await expect(connections.row("demo-postgres")).toBeVisible();
  await connections.create({ name: "orders-db", type: "postgres", upstream: "postgres://10.9.8.7:5432/orders", user: "app", tags: "prod, pii", secret: "upstream-secret-xyz" });
  await expect(connections.row("orders-db")).toContainText("stored, encrypted");
  await expect(page.locator("body")).not.toContainText("upstream-secret-xyz");

  const tokens = new TokensPage(page);
  await tokens.open();
  const token = await tokens.create("e2e-laptop");
  await expect(page.getByTestId("token-e2e-laptop")).toBeVisible();
  // The token really authenticates against the API, and sees the connection created above.
  const res = await request.get("/api/v1/connections", { headers: { authorization: `Bearer ${token}` } });
  expect(res.status()).toBe(200);
  expect((await res.json()).connections.map((c: { name: string }) => c.name)).toContain("orders-db");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/connections");
  await expect(page).toHaveURL(/\/login\?callbackUrl=%2Fconnections|\/login/);
});

test("a wrong password is refused with a clear message", async ({ page }) => {
  await new LoginPage(page).attempt(E2E.adminEmail, "not-the-password");
  await expect(page.getByRole("alert").filter({ hasText: "Wrong" })).toHaveText("Wrong email or password.");
  await expect(page).toHaveURL(/\/login/);
});

test("login never redirects off-site", async ({ page }) => {
  await page.goto("/login?callbackUrl=https://evil.example/phish");
  await page.getByLabel("Email").fill(E2E.adminEmail);
  await page.getByLabel("Password").fill(E2E.adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(new RegExp(`^${E2E.url}/overview`));
});
