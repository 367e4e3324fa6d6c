import { expect, test } from "@playwright/test";
import { LoginPage } from "./pages/console";
import { adminToken, apiLogin, ensureUser } from "./support";

/**
 * The approval loop end to end: a member asks for just-in-time access over HTTP and waits on
 * the open request; an approver sees it appear in the console queue without reloading, clicks
 * Approve, and the member's waiting request returns approved (how fast: bench/console/run.ts).
 */
test("a held request resumes once it is approved in the console", async ({ page, request }) => {
  const admin = await adminToken(request);
  await ensureUser(request, admin, { email: "member@e2e.test", password: "member-password-1", role: "member" });
  await ensureUser(request, admin, { email: "approver@e2e.test", password: "approver-password-1", role: "approver", groups: ["approvers"] });
  const member = await apiLogin(request, "member@e2e.test", "member-password-1");

  await new LoginPage(page).signIn("approver@e2e.test", "approver-password-1");
  await page.goto("/approvals");
  await expect(page.getByText("Nothing here.")).toBeVisible();

  const reason = `e2e investigation ${Date.now()}`;
  let answeredAt = 0;
  const waiting = request
    .post("/api/v1/access-requests", { headers: { authorization: `Bearer ${member}` }, data: { connection: "demo-postgres", durationSeconds: 1800, reason, wait: 30 }, timeout: 40_000 })
    .then(async (res) => {
      answeredAt = Date.now();
      return { status: res.status(), body: await res.json() };
    });

  // Appears live, without a reload.
  const card = page.locator("article", { hasText: reason });
  await expect(card).toBeVisible();
  await expect(card.getByTestId("approval-chain")).toHaveText("member@e2e.test");
  const clickedAt = Date.now();
  await card.getByRole("button", { name: "Approve" }).click();

  const result = await waiting;
  expect(result.status).toBe(200);
  expect(result.body.status).toBe("approved");
  expect(result.body.grant).toBeTruthy();
  console.log(`[approvals e2e] Approve clicked → the waiting request answered: ${answeredAt - clickedAt} ms`);
  await expect(card).toBeHidden(); // left the "mine to decide" queue
});

test("an approver cannot approve their own request", async ({ page, request }) => {
  const admin = await adminToken(request);
  await ensureUser(request, admin, { email: "approver2@e2e.test", password: "approver-password-2", role: "approver", groups: ["approvers"] });
  const self = await apiLogin(request, "approver2@e2e.test", "approver-password-2");
  const created = await request.post("/api/v1/access-requests", { headers: { authorization: `Bearer ${self}` }, data: { connection: "demo-postgres", durationSeconds: 600, reason: "self-approval attempt" } });
  expect(created.ok()).toBeTruthy();
  const { approval } = await created.json();
  const res = await request.post(`/api/v1/approvals/${approval.id}/approve`, { headers: { authorization: `Bearer ${self}` }, data: {} });
  expect(res.status()).toBe(403);

  await new LoginPage(page).signIn("approver2@e2e.test", "approver-password-2");
  await page.goto(`/approvals/${approval.id}`);
  await expect(page.getByTestId(`approval-${approval.id}`)).toBeVisible();
  await page.getByRole("button", { name: "Approve" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /own|requester|chain/i })).toBeVisible();
});
