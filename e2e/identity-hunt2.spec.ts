import fs from "node:fs";
import { expect, test } from "@playwright/test";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../tests/support/gatehouse";
import { startOidcIdp, type OidcIdp } from "../tests/support/oidc-idp";
import { exchangeIdToken, idTokenFor, OIDC_AUDIENCE } from "../tests/support/oidc-exchange";
import { LoginPage } from "./pages/console";

/**
 * The Users page shows each user's linked IdP identities; an admin unlinks one there; the user's
 * console session (another browser), signed in with a password, does not end with it. Runs its own Gatehouse, configured with
 * a real local OIDC provider, so the link is made the way it is in production: a token exchange.
 */
let gh: GatehouseProcess;
let idp: OidcIdp;
const PASSWORD = "a-long-password-1";

test.beforeAll(async () => {
  idp = await startOidcIdp({ audience: OIDC_AUDIENCE });
  gh = await startGatehouse({ demo: false, env: { GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_AUDIENCE: OIDC_AUDIENCE } });
  const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
  for (const [email, role] of [["linked@example.test", "member"], ["auditor@example.test", "auditor"]]) {
    expect((await apiCall(gh.url, admin, "POST", "/users", { email, password: PASSWORD, role })).status).toBe(200);
  }
  expect((await exchangeIdToken(gh.url, await idTokenFor(idp, "idp-subject-7", "linked@example.test"))).status).toBe(200);
});

test.afterAll(async () => {
  await gh?.stop();
  if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  idp?.close();
});

test("an auditor sees a user's linked identity but cannot unlink it; an admin unlinks it and the user's password session stays", async ({ browser }) => {
  const auditor = await (await browser.newContext({ baseURL: gh.url })).newPage();
  await new LoginPage(auditor).signIn("auditor@example.test", PASSWORD);
  await auditor.goto("/users");
  await auditor.getByTestId("user-linked@example.test").getByRole("button", { name: "Identities" }).click();
  const seen = auditor.getByTestId("identities-linked@example.test");
  await expect(seen).toContainText("idp-subject-7");
  await expect(seen).toContainText(idp.issuer);
  await expect(seen.getByRole("button", { name: /unlink/i })).toHaveCount(0);

  const user = await (await browser.newContext({ baseURL: gh.url })).newPage();
  await new LoginPage(user).signIn("linked@example.test", PASSWORD);

  const admin = await (await browser.newContext({ baseURL: gh.url })).newPage();
  await new LoginPage(admin).signIn(gh.adminEmail, gh.adminPassword);
  await admin.goto("/users");
  await admin.getByTestId("user-linked@example.test").getByRole("button", { name: "Identities" }).click();
  const links = admin.getByTestId("identities-linked@example.test");
  admin.once("dialog", (d) => void d.accept());
  await links.getByRole("button", { name: "unlink idp-subject-7 from linked@example.test" }).click();
  await expect(links.getByRole("status")).toContainText("Unlinked");
  await expect(links).toContainText("No linked identities.");

  // The user's browser signed in with a password, not through the link: it stays signed in
  // (a session signed in through the link ends with it: tests/integration/identity-hunt3.test.ts).
  await user.goto("/sessions");
  await expect(user).toHaveURL(/\/sessions/);
  await expect(user.getByRole("heading", { name: "Sessions" })).toBeVisible();
});
