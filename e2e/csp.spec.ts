import { expect, test, type Page } from "@playwright/test";
import { E2E } from "../playwright.config";
import { LoginPage } from "./pages/console";

/**
 * The Content-Security-Policy in real Chromium: every console page works under it (no violation
 * reported while it renders and hydrates), the nonce is fresh per response, and markup that
 * slipped into the page cannot run script (an inline event handler is blocked and reported).
 */
const PAGES = ["/connections", "/sessions", "/approvals", "/policies", "/masking", "/agents", "/ssh-keys", "/audit", "/users"];

function watchViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(`${page.url()}: ${m.text()}`);
  });
  return seen;
}

test("every console page renders and hydrates under the CSP without a violation", async ({ page }) => {
  const violations = watchViolations(page);
  const login = await page.goto("/login");
  const csp = login!.headers()["content-security-policy"];
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]{20,}' 'strict-dynamic'/);
  expect(csp).toContain("object-src 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  await new LoginPage(page).signIn(E2E.adminEmail, E2E.adminPassword); // a hydrated form: scripts ran
  for (const path of PAGES) {
    const res = await page.goto(path);
    expect(res!.status(), path).toBe(200);
    await expect(page.getByTestId("whoami")).toHaveText(E2E.adminEmail); // rendered by the client shell
  }
  expect(violations).toEqual([]);
});

test("the nonce changes per response, and injected markup cannot run script", async ({ page, request }) => {
  const nonceOf = (csp: string) => /'nonce-([^']+)'/.exec(csp)?.[1];
  const [a, b] = [await request.get("/login"), await request.get("/login")];
  expect(nonceOf(a.headers()["content-security-policy"])).toBeTruthy();
  expect(nonceOf(a.headers()["content-security-policy"])).not.toBe(nonceOf(b.headers()["content-security-policy"]));

  await page.goto("/login");
  const outcome = await page.evaluate(
    () =>
      new Promise<{ ran: boolean; violated: string | null }>((resolve) => {
        let violated: string | null = null;
        const done = () => resolve({ ran: (window as { __pwned?: boolean }).__pwned === true, violated });
        document.addEventListener("securitypolicyviolation", (e) => {
          violated ??= e.violatedDirective;
          // a moment more, for a handler that would still run
          setTimeout(done, 200);
        });
        // Without a violation, give up after a while (the handler has run by then, or never will).
        setTimeout(done, 5_000);
        const box = document.createElement("div");
        // What an HTML-injection bug would put on the page.
        box.innerHTML = `<img src="data:," onerror="window.__pwned = true">`;
        document.body.appendChild(box);
      }),
  );
  expect(outcome).toEqual({ ran: false, violated: expect.stringMatching(/^script-src/) });
});
