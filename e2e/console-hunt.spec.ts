import { expect, test } from "@playwright/test";
import { LoginPage } from "./pages/console";
import { adminToken, apiLogin, ensureUser } from "./support";

/**
 * Text a requester chose, as an approver sees it in real Chromium: markup stays text, and
 * bidirectional overrides and zero-width characters cannot make it read other than it is.
 */
test("an access request's reason cannot run script nor reorder or hide what the approver reads", async ({ page, request }) => {
  const admin = await adminToken(request);
  await ensureUser(request, admin, { email: "hunt-member@e2e.test", password: "member-password-9", role: "member" });
  await ensureUser(request, admin, { email: "hunt-approver@e2e.test", password: "approver-password-9", role: "approver", groups: ["approvers"] });
  const member = await apiLogin(request, "hunt-member@e2e.test", "member-password-9");
  const reason = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> ticket 4711 \u202eetadpu ylno\u202c and us\u200bers`;
  const created = await request.post("/api/v1/access-requests", { headers: { authorization: `Bearer ${member}` }, data: { connection: "demo-postgres", durationSeconds: 600, reason } });
  expect(created.ok()).toBeTruthy();
  const { approval } = await created.json();

  await new LoginPage(page).signIn("hunt-approver@e2e.test", "approver-password-9");
  await page.goto(`/approvals/${approval.id}`);
  const shown = page.getByTestId(`approval-${approval.id}`);
  await expect(shown).toContainText("ticket 4711");
  const text = (await shown.textContent()) ?? "";
  expect(text).toContain('<img src=x onerror="window.__xss=1"><script>');
  expect(text).not.toMatch(/[\u202a-\u202e\u200b]/);
  expect(text).toContain("⟦U+202E⟧etadpu ylno⟦U+202C⟧ and us⟦U+200B⟧ers");
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  expect(await page.locator("article img").count()).toBe(0);
});
