import type { APIRequestContext } from "@playwright/test";
import { E2E } from "../playwright.config";

/** REST helpers for setting up e2e scenarios the way the CLI would. */
export async function apiLogin(request: APIRequestContext, email: string, password: string): Promise<string> {
  const res = await request.post("/api/v1/login", { data: { email, password } });
  if (!res.ok()) throw new Error(`login ${email}: ${res.status()} ${await res.text()}`);
  return (await res.json()).token;
}

export async function adminToken(request: APIRequestContext) {
  return apiLogin(request, E2E.adminEmail, E2E.adminPassword);
}

export async function ensureUser(request: APIRequestContext, admin: string, user: { email: string; password: string; role: string; groups?: string[] }) {
  const res = await request.post("/api/v1/users", { headers: { authorization: `Bearer ${admin}` }, data: user });
  if (!res.ok() && res.status() !== 409) throw new Error(`create user: ${res.status()} ${await res.text()}`);
}
