import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { LoginPage } from "./pages/console";
import { adminToken, apiLogin, ensureUser } from "./support";

/** What a person does on the SSH keys page, in their words. */
class SshKeysPage {
  constructor(private page: Page) {}
  async open() {
    await this.page.getByRole("link", { name: "SSH keys" }).click();
    await expect(this.page.getByRole("heading", { name: "SSH keys" })).toBeVisible();
  }
  async add(publicKey: string, name = "") {
    await this.page.getByLabel("Public key").fill(publicKey);
    await this.page.getByLabel("Name").fill(name);
    await this.page.getByRole("button", { name: "Add key" }).click();
  }
  row(fingerprint: string) {
    return this.page.getByTestId(`ssh-key-${fingerprint}`);
  }
}

test("a member adds an SSH key (refusals are explained), sees its fingerprint, and deletes it", async ({ page, request }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-e2e-ssh-"));
  try {
    const file = path.join(dir, "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dev@laptop", "-f", file]);
    const pub = fs.readFileSync(`${file}.pub`, "utf8");
    const priv = fs.readFileSync(file, "utf8");
    const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${file}.pub`], { encoding: "utf8" }).split(/\s+/)[1];

    const email = "ssh-keys-e2e@example.test";
    await ensureUser(request, await adminToken(request), { email, password: "ssh-keys-password-1", role: "member" });
    await new LoginPage(page).signIn(email, "ssh-keys-password-1");
    const keys = new SshKeysPage(page);
    await keys.open();

    // A private key is stopped in the browser: no request carries it.
    const posts: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST" && r.url().includes("/api/v1/ssh-keys")) posts.push(r.postData() ?? "");
    });
    await keys.add(priv);
    await expect(page.getByRole("alert").filter({ hasText: "looks like a private key" })).toBeVisible();
    await page.getByRole("button", { name: "Add key" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "it was not sent" })).toBeVisible();
    expect(posts).toEqual([]);

    // The server's validation message is shown as is.
    await keys.add("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBroken");
    await expect(page.getByRole("alert").filter({ hasText: "the key data (second field) is not valid base64" })).toBeVisible();

    await keys.add(pub, "laptop");
    await expect(keys.row(fingerprint)).toContainText("laptop");
    await expect(keys.row(fingerprint)).toContainText("ssh-ed25519");
    await expect(keys.row(fingerprint)).toContainText("never");
    await expect(page.getByLabel("Public key")).toHaveValue("");

    // Adding it again explains the conflict.
    await keys.add(pub);
    await expect(page.getByRole("alert").filter({ hasText: 'already registered to this account as "laptop"' })).toBeVisible();

    page.once("dialog", (d) => void d.accept());
    await keys.row(fingerprint).getByRole("button", { name: "Delete" }).click();
    await expect(keys.row(fingerprint)).toHaveCount(0);
    const res = await request.get("/api/v1/ssh-keys", { headers: { authorization: `Bearer ${await apiLogin(request, email, "ssh-keys-password-1")}` } });
    expect((await res.json()).keys).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
