import { expect, type Page } from "@playwright/test";

/** Page objects: what a person does in the console, in their words. */
export class LoginPage {
  constructor(private page: Page) {}
  /** Signs in and waits until the console shell shows who is signed in. */
  async signIn(email: string, password: string) {
    await this.attempt(email, password);
    await expect(this.page.getByTestId("whoami")).toHaveText(email);
  }
  async attempt(email: string, password: string) {
    await this.page.goto("/login");
    await this.page.getByLabel("Email").fill(email);
    await this.page.getByLabel("Password").fill(password);
    await this.page.getByRole("button", { name: "Sign in" }).click();
  }
}

export class ConnectionsPage {
  constructor(private page: Page) {}
  async open() {
    await this.page.getByRole("link", { name: "Connections" }).click();
    await expect(this.page.getByRole("heading", { name: "Connections" })).toBeVisible();
  }
  async create(c: { name: string; type: string; upstream: string; user?: string; tags?: string; secret?: string }) {
    await this.page.getByRole("button", { name: "New connection" }).click();
    await this.page.getByLabel("Name").fill(c.name);
    await this.page.getByLabel("Type").selectOption(c.type);
    await this.page.getByLabel("Upstream address").fill(c.upstream);
    if (c.user) await this.page.getByLabel("Upstream user").fill(c.user);
    if (c.tags) await this.page.getByLabel("Tags").fill(c.tags);
    if (c.secret) await this.page.getByLabel("Credential").fill(c.secret);
    await this.page.getByRole("button", { name: "Save" }).click();
  }
  row(name: string) {
    return this.page.getByTestId(`connection-${name}`);
  }
}

export class TokensPage {
  constructor(private page: Page) {}
  async open() {
    await this.page.getByRole("link", { name: "Agents & tokens" }).click();
  }
  async create(name: string) {
    await this.page.getByLabel("Name").fill(name);
    await this.page.getByRole("button", { name: "Create token" }).click();
    const token = this.page.getByTestId("minted-token");
    await expect(token).toBeVisible();
    return (await token.textContent())!.trim();
  }
}
