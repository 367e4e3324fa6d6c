import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { can, type Permission } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { apiCall, type GatehouseProcess, login, ROOT, startGatehouse, teardown } from "../support/gatehouse";
import { appFiles } from "../support/app-tree";
import { consoleSignIn } from "../support/console-cookie";

/**
 * Walks every route handler and page under app/ — new ones are picked up automatically — and
 * proves that anonymous callers are refused and that each role gets exactly what the permission
 * table grants. A handler that is not wrapped in route()/publicRoute(), or a page that does not
 * call requirePage(), fails this test before any request is made.
 */
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
/**
 * Public by design: they authenticate the caller themselves. /api/mcp takes bearer tokens only
 * (never cookies) and must answer 401 with a WWW-Authenticate challenge, which route() does not
 * do; tests/integration/mcp.test.ts covers its refusals.
 */
const PUBLIC_ROUTES = new Set(["/api/auth/[...nextauth]", "/api/v1/login", "/api/v1/token", "/api/mcp", "/api/auth/saml/login", "/api/auth/saml/acs"]);
const PUBLIC_PAGES = new Set(["/login", "/"]);

function concrete(url: string) {
  return url.replace(/\[\.\.\.[^\]]+\]/g, "x").replace(/\[[^\]]+\]/g, "00000000-0000-0000-0000-000000000000");
}

interface RouteSpec { url: string; method: string; permission: Permission | null }
function routeSpecs(): RouteSpec[] {
  const specs: RouteSpec[] = [];
  for (const { file, url } of appFiles("route")) {
    const src = fs.readFileSync(file, "utf8");
    const exported = [...src.matchAll(/export\s+(?:const|async function|function)\s+(GET|POST|PUT|PATCH|DELETE)\b|export\s*\{([^}]*)\}/g)].flatMap((m) =>
      m[1] ? [m[1]] : m[2].split(",").map((s) => s.trim().split(/\s+as\s+/).pop()!).filter((n) => (METHODS as readonly string[]).includes(n)),
    );
    for (const method of exported) {
      if (PUBLIC_ROUTES.has(url)) {
        specs.push({ url, method, permission: null });
        continue;
      }
      const m = new RegExp(`export const ${method} = route(?:<[^>]*>)?\\(\\s*"([a-z:-]+)"`).exec(src);
      if (!m) throw new Error(`${path.relative(ROOT, file)}: ${method} is not wrapped in route("permission", ...)`);
      specs.push({ url, method, permission: m[1] as Permission });
    }
  }
  return specs;
}

function pageSpecs(): { url: string; permission: Permission | null }[] {
  return appFiles("page").map(({ file, url }) => {
    if (PUBLIC_PAGES.has(url)) return { url, permission: null };
    const m = /requirePage\(\s*"([a-z:-]+)"/.exec(fs.readFileSync(file, "utf8"));
    if (!m) throw new Error(`${path.relative(ROOT, file)} does not start with requirePage("permission", ...)`);
    return { url, permission: m[1] as Permission };
  });
}

const ROLES = ["member", "auditor", "approver"] as const;

describe("every route and page checks who is asking", () => {
  const routes = routeSpecs();
  const pages = pageSpecs();
  let gh: GatehouseProcess;
  const tokens: Record<string, string> = {};
  const cookies: Record<string, string> = {};

  beforeAll(async () => {
    gh = await startGatehouse({ demo: false });
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const role of ROLES) {
      const email = `${role}@example.test`;
      await apiCall(gh.url, admin, "POST", "/users", { email, password: "role-password-123", role });
      tokens[role] = await login(gh.url, email, "role-password-123");
      cookies[role] = (await consoleSignIn(gh.url, email, "role-password-123")).header;
    }
  });
  afterAll(async () => {
    await teardown(gh);
  });

  it("found the routes and pages", () => {
    expect(routes.length).toBeGreaterThan(10);
    expect(pages.length).toBeGreaterThan(5);
  });

  it("refuses anonymous callers on every protected route (401)", async () => {
    for (const r of routes.filter((r) => r.permission)) {
      const res = await fetch(gh.url + concrete(r.url), { method: r.method, headers: { "content-type": "application/json" }, body: r.method === "GET" ? undefined : "{}" });
      expect({ route: `${r.method} ${r.url}`, status: res.status }).toEqual({ route: `${r.method} ${r.url}`, status: 401 });
    }
  });

  it("refuses garbage bearer tokens on every protected route (401)", async () => {
    for (const r of routes.filter((r) => r.permission)) {
      const res = await fetch(gh.url + concrete(r.url), { method: r.method, headers: { authorization: "Bearer not.a.token-at-all" } });
      expect({ route: `${r.method} ${r.url}`, status: res.status }).toEqual({ route: `${r.method} ${r.url}`, status: 401 });
    }
  });

  it("gives each role exactly what the permission table grants (403 otherwise)", async () => {
    for (const role of ROLES) {
      const caller: Caller = { userId: "x", email: "x", role, groups: [], via: "token" };
      for (const r of routes.filter((r) => r.permission)) {
        const res = await fetch(gh.url + concrete(r.url), {
          method: r.method,
          headers: { authorization: `Bearer ${tokens[role]}`, "content-type": "application/json" },
          body: r.method === "GET" ? undefined : "{}",
        });
        const allowed = can(caller, r.permission!);
        const label = `${role} ${r.method} ${r.url}`;
        if (allowed) expect({ label, refused: [401, 403].includes(res.status) }).toEqual({ label, refused: false });
        else expect({ label, status: res.status }).toEqual({ label, status: 403 });
      }
    }
  });

  it("refuses cookie-authenticated state changes from another origin (CSRF)", async () => {
    const res = await fetch(`${gh.url}/api/v1/tokens`, { method: "POST", headers: { cookie: cookies.member, origin: "https://evil.example", "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(403);
    const noOrigin = await fetch(`${gh.url}/api/v1/tokens`, { method: "POST", headers: { cookie: cookies.member, "content-type": "application/json" }, body: "{}" });
    expect(noOrigin.status).toBe(403);
    const same = await fetch(`${gh.url}/api/v1/tokens`, { method: "POST", headers: { cookie: cookies.member, origin: gh.url, "content-type": "application/json" }, body: JSON.stringify({ name: "x" }) });
    expect(same.status).toBe(200);
  });

  it("redirects anonymous visitors of every console page to the login page", async () => {
    for (const p of pages.filter((p) => p.permission)) {
      const res = await fetch(gh.url + concrete(p.url), { redirect: "manual" });
      expect({ page: p.url, status: res.status, to: res.headers.get("location")?.replace(/\?.*/, "") }).toEqual({ page: p.url, status: 307, to: "/login" });
    }
  });

  it("answers 403 on console pages a role may not see", async () => {
    for (const role of ROLES) {
      const caller: Caller = { userId: "x", email: "x", role, groups: [], via: "session" };
      for (const p of pages.filter((p) => p.permission)) {
        const res = await fetch(gh.url + concrete(p.url), { headers: { cookie: cookies[role] }, redirect: "manual" });
        const label = `${role} ${p.url}`;
        expect({ label, status: res.status }).toEqual({ label, status: can(caller, p.permission!) ? 200 : 403 });
      }
    }
  });

  it("refuses WebSocket upgrades without a session, or from another origin", async () => {
    const { default: WebSocket } = await import("ws");
    const attempt = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gh.port}/ws/events`, { headers });
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("error", () => resolve(-1));
      });
    expect(await attempt({})).toBe(401);
    expect(await attempt({ cookie: cookies.member, origin: "https://evil.example" })).toBe(403);
    expect(await attempt({ cookie: cookies.member, origin: gh.url })).toBe(101);
  });
});
