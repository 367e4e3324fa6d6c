import { expect, test } from "@playwright/test";
import postgres from "postgres";
import { E2E } from "../playwright.config";
import { LoginPage } from "./pages/console";
import { adminToken } from "./support";

test("the SQL session view names a statement's error by code and message, with the rows sent before it", async ({ page, request }) => {
  const token = await adminToken(request);
  const port = new URL(E2E.url).port;
  const sql = postgres({ host: "127.0.0.1", port: Number(port) + 1, database: "demo-postgres", username: E2E.adminEmail, password: token, ssl: false, max: 1, connection: { application_name: "e2e-midstream" }, onnotice: () => {} });
  try {
    await expect(sql.unsafe("select g / (3 - g) as v from generate_series(1, 5) g")).rejects.toThrow(/division by zero/);
  } finally {
    await sql.end();
  }
  const found = await request.get("/api/v1/sessions?connection=demo-postgres&q=e2e-midstream", { headers: { authorization: `Bearer ${token}` } });
  const [session] = (await found.json()).sessions as { id: string }[];
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword);
  await page.goto(`/sessions/${session.id}`);
  const timeline = page.getByTestId("event-timeline");
  await expect(timeline).toContainText("error: 22012 division by zero · 2 rows sent before");
  await expect(timeline).not.toContainText("[object Object]");
});
