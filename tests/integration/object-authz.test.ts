import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { apiCall, exchangeToken, type GatehouseProcess, login, ROOT, startGatehouse, teardown } from "../support/gatehouse";
import { addApprover, addUser, type Rec, TEST_PASSWORD } from "../support/api-fixture";
import { appFiles } from "../support/app-tree";
import { consoleSignIn } from "../support/console-cookie";
import { gatewayClient } from "../support/gateway-pg";

/**
 * Per-object authorization with real objects. Member A owns a live PostgreSQL session with
 * events, access requests (one approved into a grant), a token and an SSH key; member B, B's
 * agent (token exchange) and B's console cookie try every `[id]` route under app/api with A's
 * ids. Each refusal must be the answer B gets for an id that does not exist (nothing about A's
 * object leaks through a status or a message), A's objects must be unchanged afterwards, and an
 * auditor, approver or admin must get through with the same ids — so a route that refused
 * everyone, or a wrong id, fails here too. The routes are read from the filesystem: a new `[id]`
 * route without an entry below fails the first test, naming it.
 */
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const ZERO_UUID = "00000000-0000-4000-8000-000000000000";

/** "METHOD /api/v1/x/[id]/y" for every exported handler of a route with a dynamic segment (catch-alls are next-auth's own). */
function objectRoutes(): string[] {
  const keys: string[] = [];
  for (const { file, url } of appFiles("route")) {
    if (!/\[(?!\.\.\.)[^\]]+\]/.test(url)) continue;
    const src = fs.readFileSync(file, "utf8");
    for (const m of src.matchAll(/export\s+(?:const|async function|function)\s+(GET|POST|PUT|PATCH|DELETE)\b/g)) keys.push(`${m[1]} ${url}`);
    if (/export\s*\{/.test(src)) throw new Error(`${path.relative(ROOT, file)}: re-exported handlers; list them here by hand`);
  }
  return keys.sort();
}

/** Console pages with an object in the path, as "/sessions/[id]". */
function objectPages(): string[] {
  return appFiles("page")
    .map((p) => p.url)
    .filter((u) => /\[[^\]]+\]/.test(u))
    .sort();
}

type Who = "b" | "agent" | "cookie";
type Priv = "admin" | "auditor" | "approver";
/**
 * How B is refused on A's object:
 * - "absent": B's role may use the route, the object check says no: the same 404 as for an id that does not exist;
 * - "role": B's role may not use the route at all: 403 before any lookup, for any id;
 * - "shared": not owned by anyone (connections, masking rules, policy versions): readable by every
 *   member by design; B's agent (a narrowed token) is refused by role.
 */
interface Spec {
  /** the object of A (or the shared object) in the path */
  id: (o: Objects) => string;
  /** an id of the same shape that does not exist */
  missing: string;
  b: "absent" | "role" | "shared";
  agent: "absent" | "role" | "shared";
  body?: Rec;
  query?: string;
  /** who may, and what they get (mutations are run at the end, after A's objects were checked unchanged) */
  priv: Priv;
  privStatus: number;
  /** what the privileged answer says, when its status alone would not tell it from B's refusal */
  privText?: RegExp;
  mutates?: boolean;
  /** the id a privileged mutation is run on, when not `id` (a second object of A's) */
  privId?: (o: Objects) => string;
}

interface Objects {
  session: string;
  pending: number;
  toApprove: number;
  toRevoke: number;
  grant: string;
  token: string;
  sshKey: string;
  userA: string;
  connection: string;
  masking: string;
  policyVersion: string;
}

const session = (priv: Priv, privStatus = 200, extra: Partial<Spec> = {}): Spec => ({ id: (o) => o.session, missing: ZERO_UUID, b: "absent", agent: "absent", priv, privStatus, ...extra });
const approval = (b: Spec["b"], priv: Priv, extra: Partial<Spec> = {}): Spec => ({ id: (o) => String(o.pending), missing: "999999", b, agent: b, priv, privStatus: 200, ...extra });

const SPECS: Record<string, Spec> = {
  "GET /api/v1/sessions/[id]": session("auditor"),
  "GET /api/v1/sessions/[id]/events": session("auditor"),
  "GET /api/v1/sessions/[id]/export": session("auditor"),
  "GET /api/v1/sessions/[id]/verify": session("auditor"),
  // a query session has no terminal to replay: the auditor is told so, where B is told there is no session
  "GET /api/v1/sessions/[id]/replay": session("auditor", 404, { privText: /no terminal recording/ }),
  "GET /api/v1/sessions/[id]/replay/timeline": session("auditor"),
  "GET /api/v1/sessions/[id]/terminal": session("auditor"),
  "POST /api/v1/sessions/[id]/kill": session("admin", 200, { b: "role", agent: "role", body: { reason: "object-authz" }, mutates: true }),
  "GET /api/v1/approvals/[id]": approval("absent", "auditor"),
  "GET /api/v1/approvals/[id]/wait": approval("absent", "approver", { query: "?timeout=0" }),
  "POST /api/v1/approvals/[id]/approve": approval("role", "approver", { body: {}, mutates: true, privId: (o) => String(o.toApprove) }),
  "POST /api/v1/approvals/[id]/deny": approval("role", "approver", { body: { reason: "no" }, mutates: true }),
  "POST /api/v1/approvals/[id]/revoke": approval("role", "approver", { body: { reason: "withdrawn" }, mutates: true, privId: (o) => String(o.toRevoke) }),
  "DELETE /api/v1/grants/[id]": { id: (o) => o.grant, missing: ZERO_UUID, b: "role", agent: "role", priv: "approver", privStatus: 200, mutates: true },
  "DELETE /api/v1/tokens/[id]": { id: (o) => o.token, missing: ZERO_UUID, b: "absent", agent: "absent", priv: "admin", privStatus: 200, mutates: true },
  "DELETE /api/v1/ssh-keys/[id]": { id: (o) => o.sshKey, missing: ZERO_UUID, b: "absent", agent: "role", priv: "admin", privStatus: 200, mutates: true },
  "PATCH /api/v1/users/[id]": { id: (o) => o.userA, missing: ZERO_UUID, b: "role", agent: "role", body: { name: "Mallory was here" }, priv: "admin", privStatus: 200, mutates: true },
  "GET /api/v1/users/[id]/identities": { id: (o) => o.userA, missing: ZERO_UUID, b: "role", agent: "role", priv: "auditor", privStatus: 200 },
  "DELETE /api/v1/users/[id]/identities": { id: (o) => o.userA, missing: ZERO_UUID, b: "role", agent: "role", body: { issuer: "https://idp.example", subject: "a" }, priv: "admin", privStatus: 404, privText: /no such identity linked to this user/, mutates: true },
  "GET /api/v1/connections/[id]": { id: (o) => o.connection, missing: ZERO_UUID, b: "shared", agent: "shared", priv: "admin", privStatus: 200 },
  "PATCH /api/v1/connections/[id]": { id: (o) => o.connection, missing: ZERO_UUID, b: "role", agent: "role", body: { tags: ["pwned"] }, priv: "admin", privStatus: 200, mutates: true },
  "DELETE /api/v1/connections/[id]": { id: (o) => o.connection, missing: ZERO_UUID, b: "role", agent: "role", priv: "admin", privStatus: 200, mutates: true },
  "GET /api/v1/masking/[id]": { id: (o) => o.masking, missing: ZERO_UUID, b: "shared", agent: "role", priv: "admin", privStatus: 200 },
  "PUT /api/v1/masking/[id]": { id: (o) => o.masking, missing: ZERO_UUID, b: "role", agent: "role", body: { name: "authz-rule", columns: ["t.c"], style: "redact" }, priv: "admin", privStatus: 200, mutates: true },
  "DELETE /api/v1/masking/[id]": { id: (o) => o.masking, missing: ZERO_UUID, b: "role", agent: "role", priv: "admin", privStatus: 200, mutates: true },
  "GET /api/v1/policies/versions/[version]": { id: (o) => o.policyVersion, missing: "999999", b: "shared", agent: "role", priv: "admin", privStatus: 200 },
};

/** The order privileged mutations run in: each must still find its object. */
const MUTATION_ORDER = [
  "PATCH /api/v1/users/[id]",
  "DELETE /api/v1/users/[id]/identities",
  "POST /api/v1/approvals/[id]/approve",
  "POST /api/v1/approvals/[id]/revoke",
  "POST /api/v1/approvals/[id]/deny",
  "DELETE /api/v1/grants/[id]",
  "POST /api/v1/sessions/[id]/kill",
  "DELETE /api/v1/tokens/[id]",
  "DELETE /api/v1/ssh-keys/[id]",
  "PATCH /api/v1/connections/[id]",
  "DELETE /api/v1/connections/[id]",
  "PUT /api/v1/masking/[id]",
  "DELETE /api/v1/masking/[id]",
];

/** The object of A's (or the shared one) each console page with an id is opened on. */
const PAGES: Record<string, (o: Objects) => string> = {
  "/sessions/[id]": (o) => o.session,
  "/approvals/[id]": (o) => String(o.pending),
  "/connections/[name]/sql": () => "authz-target",
  "/connections/[name]/terminal": () => "authz-target",
};

const A_EMAIL = "alice@example.test";
const B_EMAIL = "bob@example.test";

describe("one member's objects are out of another member's (and their agent's) reach", () => {
  const routes = objectRoutes();
  let gh: GatehouseProcess;
  const t: Record<"admin" | "auditor" | "approver" | "a" | "aPersonal" | "b" | "agent", string> = { admin: "", auditor: "", approver: "", a: "", aPersonal: "", b: "", agent: "" };
  let bCookie = "";
  let aSql: postgres.Sql;
  const o = {} as Objects;

  /** One call as `who`: bearer for B and B's agent, B's console cookie (same origin) otherwise. */
  async function call(who: Who | Priv, method: string, url: string, body?: Rec) {
    const headers: Record<string, string> = body !== undefined ? { "content-type": "application/json" } : {};
    if (who === "cookie") Object.assign(headers, { cookie: bCookie, origin: gh.url });
    else headers.authorization = `Bearer ${t[who]}`;
    const res = await fetch(gh.url + url, { method, headers, body: body !== undefined ? JSON.stringify(body) : undefined });
    const text = await res.text();
    return { status: res.status, text };
  }
  const concrete = (key: string, id: string) => {
    const [method, url] = key.split(" ");
    const spec = SPECS[key];
    return { method, url: url.replace(/\[[^\]]+\]/, encodeURIComponent(id)) + (spec.query ?? ""), body: spec.body ?? (method === "GET" ? undefined : {}) };
  };

  /** What A's objects look like to A and an admin: compared before and after B's attempts. */
  async function snapshot() {
    const sess = await apiCall(gh.url, t.auditor, "GET", `/sessions/${o.session}`);
    const events = await apiCall(gh.url, t.auditor, "GET", `/sessions/${o.session}/events?limit=5000`);
    const appr = await apiCall(gh.url, t.a, "GET", `/approvals/${o.pending}`);
    const grants = await apiCall(gh.url, t.admin, "GET", "/grants");
    const keys = await apiCall(gh.url, t.a, "GET", "/ssh-keys");
    const me = await apiCall(gh.url, t.aPersonal, "GET", "/me");
    const users = await apiCall(gh.url, t.admin, "GET", "/users");
    const conn = await apiCall(gh.url, t.admin, "GET", `/connections/${o.connection}`);
    const rule = await apiCall(gh.url, t.admin, "GET", `/masking/${o.masking}`);
    const userA = (users.body.users as Rec[]).find((u) => u.id === o.userA)!;
    return {
      session: { status: sess.body.session?.status, endedAt: sess.body.session?.endedAt ?? null },
      events: (events.body.events as Rec[]).length,
      approval: { status: appr.body.approval?.status, decisions: appr.body.approval?.decisions?.length ?? 0 },
      grant: (grants.body.grants as Rec[]).find((g) => g.id === o.grant)?.active,
      sshKey: (keys.body.keys as Rec[]).some((k) => k.id === o.sshKey),
      tokenWorks: me.status,
      userA: { name: userA.name ?? null, role: userA.role, disabled: userA.disabled },
      connection: conn.body.connection?.tags,
      masking: rule.body.rule?.name,
    };
  }
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    gh = await startGatehouse({ demo: true });
    t.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    t.auditor = await addUser(gh, t.admin, "auditor@example.test", { role: "auditor" });
    t.approver = await addApprover(gh, t.admin);
    t.a = await addUser(gh, t.admin, A_EMAIL);
    t.b = await addUser(gh, t.admin, B_EMAIL);
    bCookie = (await consoleSignIn(gh.url, B_EMAIL, TEST_PASSWORD)).header;
    const bRoot = (await apiCall(gh.url, t.b, "POST", "/tokens", { name: "bob-root", ttlSeconds: 3600 })).body.token as string;
    t.agent = (await exchangeToken(gh.url, bRoot, "bob-agent")).access_token;

    // A's token, SSH key and user id
    const personal = await apiCall(gh.url, t.a, "POST", "/tokens", { name: "alice-script", ttlSeconds: 3600 });
    expect(personal.status, JSON.stringify(personal.body)).toBe(200);
    t.aPersonal = personal.body.token;
    o.token = personal.body.id;
    const pub = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), pub]).toString("base64");
    const key = await apiCall(gh.url, t.a, "POST", "/ssh-keys", { publicKey: `ssh-ed25519 ${blob} alice@laptop`, name: "alice-laptop" });
    expect(key.status, JSON.stringify(key.body)).toBe(200);
    o.sshKey = key.body.key.id;
    o.userA = (await apiCall(gh.url, t.aPersonal, "GET", "/me")).body.id;

    // A's access requests: one approved into a grant, three pending
    const ask = async (reason: string) => {
      const res = await apiCall(gh.url, t.a, "POST", "/access-requests", { connection: "demo-postgres", durationSeconds: 600, reason });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.approval.id as number;
    };
    const granted = await ask("INC-1 alice");
    const approved = await apiCall(gh.url, t.approver, "POST", `/approvals/${granted}/approve`, {});
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    o.grant = approved.body.grant.id;
    o.pending = await ask("INC-2 alice");
    o.toApprove = await ask("INC-3 alice");
    o.toRevoke = await ask("INC-4 alice");

    // A's live PostgreSQL session with recorded statements
    aSql = gatewayClient(gh.ports.postgres, { user: A_EMAIL, password: t.aPersonal }).sql;
    expect(await aSql`select 41 + 1 as answer`).toEqual([{ answer: 42 }]);
    const mine = await apiCall(gh.url, t.a, "GET", "/sessions?status=live");
    o.session = (mine.body.sessions as Rec[])[0].id;
    for (let i = 0; ((await apiCall(gh.url, t.a, "GET", `/sessions/${o.session}/events`)).body.events as Rec[]).length < 2; i++) {
      if (i > 100) throw new Error("A's statement was not recorded");
      await new Promise((r) => setTimeout(r, 100));
    }

    // shared objects: a connection, a masking rule, a policy version
    const conn = await apiCall(gh.url, t.admin, "POST", "/connections", { name: "authz-target", type: "postgres", upstream: "postgres://127.0.0.1:1/x", tags: ["a"] });
    expect(conn.status, JSON.stringify(conn.body)).toBe(200);
    o.connection = conn.body.connection.id;
    const rule = await apiCall(gh.url, t.admin, "POST", "/masking", { name: "authz-rule", columns: ["t.c"], style: "redact" });
    expect(rule.status, JSON.stringify(rule.body)).toBe(200);
    o.masking = rule.body.rule.id;
    const versions = await apiCall(gh.url, t.admin, "GET", "/policies/versions");
    o.policyVersion = String((versions.body.versions as Rec[])[0].version);
    for (const [k, v] of Object.entries(o)) expect({ k, v }).toEqual({ k, v: expect.anything() });
    before = await snapshot();
  }, 120_000);

  afterAll(async () => {
    await aSql?.end({ timeout: 1 }).catch(() => {});
    await teardown(gh);
  });

  it("has an entry for every route with an object id (a new one fails here, named)", () => {
    expect(routes.length).toBeGreaterThan(15);
    expect({ unlisted: routes.filter((r) => !SPECS[r]) }).toEqual({ unlisted: [] });
    expect({ stale: Object.keys(SPECS).filter((k) => !routes.includes(k)) }).toEqual({ stale: [] });
    expect([...MUTATION_ORDER].sort()).toEqual(Object.keys(SPECS).filter((k) => SPECS[k].mutates).sort());
  });

  it("B, B's agent and B's console cookie get for A's object exactly what they get for no object", async () => {
    for (const key of routes) {
      const spec = SPECS[key];
      for (const who of ["b", "agent", "cookie"] as const) {
        const expected = who === "agent" ? spec.agent : spec.b;
        const real = concrete(key, spec.id(o));
        const got = await call(who, real.method, real.url, real.body);
        const label = `${who} ${key}`;
        if (expected === "shared") {
          expect({ label, status: got.status }).toEqual({ label, status: 200 });
          continue;
        }
        expect({ label, status: got.status }).toEqual({ label, status: expected === "absent" ? 404 : 403 });
        // Not a hint either way: the answer for an id that does not exist is the same, word for word.
        const fake = concrete(key, spec.missing);
        const none = await call(who, fake.method, fake.url, fake.body);
        expect({ label, status: none.status, text: none.text }).toEqual({ label, status: got.status, text: got.text });
      }
    }
  });

  it("B cannot watch A's session live over the WebSocket (nor can B's agent); an auditor can", async () => {
    const attempt = (id: string, headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gh.port}/ws/sessions/${id}`, { headers });
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("error", () => resolve(-1));
      });
    for (const [who, headers] of [
      ["b", { authorization: `Bearer ${t.b}` }],
      ["agent", { authorization: `Bearer ${t.agent}` }],
      ["cookie", { cookie: bCookie, origin: gh.url }],
    ] as const) {
      expect({ who, status: await attempt(o.session, headers) }).toEqual({ who, status: 403 });
      expect({ who, missing: await attempt(ZERO_UUID, headers) }).toEqual({ who, missing: 403 });
    }
    expect(await attempt(o.session, { authorization: `Bearer ${t.auditor}` })).toBe(101);
    expect(await attempt(o.session, { authorization: `Bearer ${t.a}` })).toBe(101);
  });

  it("lists and ?user= parameters: B's show none of A's objects, where a privileged caller's show them", async () => {
    const ids = async (who: Who | Priv, url: string, field: string) => {
      const got = await call(who, "GET", url);
      expect({ who, url, status: got.status }).toEqual({ who, url, status: 200 });
      return (JSON.parse(got.text)[field] as Rec[]).map((x) => String(x.id));
    };
    const lists: [string, string, keyof Objects, Priv][] = [
      [`/api/v1/sessions?limit=500&user=${encodeURIComponent(A_EMAIL)}`, "sessions", "session", "auditor"],
      ["/api/v1/approvals?status=all&limit=500", "approvals", "pending", "approver"],
      ["/api/v1/grants", "grants", "grant", "admin"],
      ["/api/v1/tokens?all=1", "tokens", "token", "admin"],
    ];
    for (const [url, field, object, priv] of lists) {
      expect({ url, sees: (await ids(priv, url, field)).includes(String(o[object])) }).toEqual({ url, sees: true });
      for (const who of ["b", "agent", "cookie"] as const) expect({ who, url, sees: (await ids(who, url, field)).includes(String(o[object])) }).toEqual({ who, url, sees: false });
    }
    const keysOf = (who: Who | Priv, user: string) => call(who, "GET", `/api/v1/ssh-keys?user=${encodeURIComponent(user)}`);
    expect((await keysOf("admin", A_EMAIL)).text).toContain(o.sshKey);
    const add = { publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x", name: "planted", user: A_EMAIL };
    for (const who of ["b", "agent", "cookie"] as const) {
      const theirs = await keysOf(who, A_EMAIL);
      const nobody = await keysOf(who, "nobody@example.test");
      expect({ who, status: theirs.status, same: theirs.text === nobody.text }).toEqual({ who, status: 403, same: true });
      // nor may B plant a key that would log in as A
      expect({ who, planted: (await call(who, "POST", "/api/v1/ssh-keys", add)).status }).toEqual({ who, planted: 403 });
    }
  });

  it("console pages with an object id render none of A's data for B (they load it through the API above)", async () => {
    const pages = objectPages();
    expect({ unlisted: pages.filter((p) => !PAGES[p]), stale: Object.keys(PAGES).filter((p) => !pages.includes(p)) }).toEqual({ unlisted: [], stale: [] });
    for (const page of pages) {
      const res = await fetch(gh.url + page.replace(/\[[^\]]+\]/, encodeURIComponent(PAGES[page](o))), { headers: { cookie: bCookie }, redirect: "manual" });
      const html = await res.text();
      expect({ page, status: res.status, leaks: [A_EMAIL, "INC-2 alice", "41 + 1"].filter((s) => html.includes(s)) }).toEqual({ page, status: 200, leaks: [] });
    }
  });

  it("A's objects are unchanged, and A's session still runs statements", async () => {
    expect(await aSql`select 'still here' as s`).toEqual([{ s: "still here" }]);
    const after = await snapshot();
    expect(after.events).toBeGreaterThanOrEqual(before.events); // nothing taken away
    expect({ ...after, events: before.events }).toEqual(before);
    expect(before).toMatchObject({ session: { status: "live" }, approval: { status: "pending", decisions: 0 }, grant: true, sshKey: true, tokenWorks: 200 });
  });

  it("an auditor, approver or admin reaches the same objects (so the refusals above are about B)", async () => {
    const results: Rec[] = [];
    const run = async (key: string, id: string) => {
      const spec = SPECS[key];
      const req = concrete(key, id);
      const got = await call(spec.priv, req.method, req.url, req.body);
      const ok = got.status === spec.privStatus && (!spec.privText || spec.privText.test(got.text));
      results.push({ key, who: spec.priv, ok, ...(ok ? {} : { status: got.status, text: got.text.slice(0, 200) }) });
    };
    for (const key of routes.filter((k) => !SPECS[k].mutates)) await run(key, SPECS[key].id(o));
    for (const key of MUTATION_ORDER) await run(key, (SPECS[key].privId ?? SPECS[key].id)(o));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    // and they took effect on A's objects
    const after = await snapshot();
    expect(after).toMatchObject({ session: { status: "killed" }, approval: { status: "denied" }, grant: false, sshKey: false, tokenWorks: 401 });
  });
});
