import { expect, test } from "@playwright/test";
import postgres from "postgres";
import { E2E } from "../playwright.config";
import { LoginPage } from "./pages/console";
import { adminToken } from "./support";

test("the session page shows whether the recording is still what was sealed when the session ended", async ({ page, request }) => {
  const token = await adminToken(request);
  const port = new URL(E2E.url).port;
  const sql = postgres({ host: "127.0.0.1", port: Number(port) + 1, database: "demo-postgres", username: E2E.adminEmail, password: token, ssl: false, max: 1, connection: { application_name: "e2e-seal" }, onnotice: () => {} });
  try {
    await sql.unsafe("select 1 as sealed");
  } finally {
    await sql.end();
  }
  const found = await request.get("/api/v1/sessions?connection=demo-postgres&q=e2e-seal", { headers: { authorization: `Bearer ${token}` } });
  const [session] = (await found.json()).sessions as { id: string }[];
  // sealed once its recording has settled, a moment after it ended
  await expect.poll(async () => (await (await request.get(`/api/v1/sessions/${session.id}/verify`, { headers: { authorization: `Bearer ${token}` } })).json()).verification.state, { timeout: 15_000 }).toBe("intact");
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
  await page.goto(`/sessions/${session.id}`);
  const seal = page.getByTestId("recording-seal");
  await expect(seal).toHaveAttribute("data-state", "intact");
  await expect(seal).toContainText("recording intact");
});
