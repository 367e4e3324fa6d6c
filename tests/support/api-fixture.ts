import { apiCall, type GatehouseProcess, login } from "./gatehouse";

/**
 * What integration tests do over and over through the REST API: make users, wait for an
 * approval request to appear, find the session a client just opened and read its recording.
 * Everything polls the real API of a running Gatehouse; nothing reaches into its store.
 */
export type Rec = Record<string, any>;

export const TEST_PASSWORD = "a-long-password-1";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates a console account as `admin` and logs it in; returns its login token. */
export async function addUser(gh: GatehouseProcess, admin: string, email: string, opts: { role?: string; groups?: string[]; password?: string } = {}): Promise<string> {
  const password = opts.password ?? TEST_PASSWORD;
  const res = await apiCall(gh.url, admin, "POST", "/users", { email, password, role: opts.role ?? "member", groups: opts.groups ?? [] });
  if (res.status !== 200) throw new Error(`creating ${email} failed (${res.status}): ${JSON.stringify(res.body)}`);
  return login(gh.url, email, password);
}

/** An approver in the `approvers` group, which the shipped policies' holds name. */
export const addApprover = (gh: GatehouseProcess, admin: string, email = "approver@example.test") => addUser(gh, admin, email, { role: "approver", groups: ["approvers"] });

/** What registers the real PostgreSQL 15 of startPostgres15 as a connection: its superuser, on loopback. */
export const pgUpstream = (pg: { port: number }) => ({ type: "postgres", upstream: `postgres://127.0.0.1:${pg.port}/postgres`, username: "postgres", secret: "gatehouse-test" });

/** What registers the real sshd of startSshd as a connection, by password. */
export const sshUpstream = (sshd: { port: number; user: string; password: string }) => ({ type: "ssh", upstream: `ssh://127.0.0.1:${sshd.port}`, username: sshd.user, secret: sshd.password });

/** Creates a connection as `admin` from `body` (e.g. `{ ...pgUpstream(pg), tags }`); throws with the API's answer when refused. */
export async function addConnection(gh: GatehouseProcess, admin: string, name: string, body: Rec): Promise<Rec> {
  return accepted(`creating connection ${name}`, await apiCall(gh.url, admin, "POST", "/connections", { name, ...body }));
}

/** Saves `text` as the policy set; throws with the API's answer when it is refused. */
export async function putPolicies(gh: GatehouseProcess, admin: string, text: string, comment = "test policies"): Promise<Rec> {
  return accepted(`saving policies (${comment})`, await apiCall(gh.url, admin, "PUT", "/policies", { text, comment }));
}

/** Adds a masking rule; throws with the API's answer when it is refused. */
export async function addMaskingRule(gh: GatehouseProcess, admin: string, rule: Rec): Promise<Rec> {
  return accepted(`adding masking rule ${rule.name}`, await apiCall(gh.url, admin, "POST", "/masking", rule));
}

function accepted(what: string, res: { status: number; body: any }): Rec {
  if (res.status !== 200) throw new Error(`${what} failed (${res.status}): ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A pending request's text matches `match` when equal to it (string) or tested by it (RegExp). */
export type ApprovalMatch = string | RegExp | ((a: Rec) => boolean);

function matcher(match: ApprovalMatch): (a: Rec) => boolean {
  if (typeof match === "function") return match;
  if (typeof match === "string") return (a) => a.request?.text === match;
  return (a) => typeof a.request?.text === "string" && match.test(a.request.text);
}

/**
 * Polls the pending approvals `token` may see until one matches. `give` is asked between polls:
 * once it says true (the client finished without being held) the answer is null. Throws after
 * `waitMs` without a match.
 */
export async function pendingApproval(gh: GatehouseProcess, token: string, match: ApprovalMatch, opts: { give?: () => boolean; waitMs?: number } = {}): Promise<Rec | null> {
  const matches = matcher(match);
  const deadline = Date.now() + (opts.waitMs ?? 20_000);
  for (;;) {
    const list = await apiCall(gh.url, token, "GET", "/approvals?status=pending");
    const hit = (list.body.approvals as Rec[]).find(matches);
    if (hit) return hit;
    if (opts.give?.()) return null;
    if (Date.now() > deadline) throw new Error(`no pending approval matching ${String(match)}`);
    await sleep(50);
  }
}

/** Like pendingApproval, for callers that expect a hold and have nothing to give up on. */
export async function heldApproval(gh: GatehouseProcess, token: string, match: ApprovalMatch, waitMs?: number): Promise<Rec> {
  return (await pendingApproval(gh, token, match, { waitMs }))!;
}

export const ofKind = (events: Rec[], kind: string) => events.filter((e) => e.kind === kind).map((e) => e.payload as Rec);

/** Terminal output of a recording, decoded from its `term.o` events. */
export const termOutput = (events: Rec[]) => ofKind(events, "term.o").map((p) => p.d ?? Buffer.from(p.b64, "base64").toString()).join("");

/**
 * The sessions of one protocol as `token` (an auditor or admin) sees them, and their recordings.
 * Both are getters, so a describe block can bind this before its beforeAll has started anything.
 */
export function sessionsOf(process: () => GatehouseProcess, token: () => string, protocol: "ssh" | "postgres") {
  async function ids(): Promise<Set<string>> {
    const res = await apiCall(process().url, token(), "GET", `/sessions?protocol=${protocol}`);
    return new Set((res.body.sessions as Rec[]).map((s) => s.id));
  }

  /** The one session opened since `known` was taken (a gateway opens it right after auth). */
  async function opened(known: Set<string>, waitMs = 10_000): Promise<string> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const fresh = [...(await ids())].filter((id) => !known.has(id));
      if (fresh.length === 1) return fresh[0];
      if (fresh.length > 1) throw new Error(`expected one new session, got ${fresh.length}`);
      if (Date.now() > deadline) throw new Error("no new session");
      await sleep(50);
    }
  }

  /** The recording's events; waits for `until`, for the session to end (all flushed), or `waitMs`. */
  async function recorded(id: string, until: (events: Rec[]) => boolean = () => false, waitMs = 10_000): Promise<Rec[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const res = await fetch(`${process().url}/api/v1/sessions/${id}/export?format=jsonl`, { headers: { authorization: `Bearer ${token()}` } });
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as Rec);
      const session = lines.find((l) => l.kind === "session");
      const events = lines.filter((l) => l.kind !== "session");
      if (until(events) || (session && session.status !== "live") || Date.now() > deadline) return events;
      await sleep(100);
    }
  }

  return { ids, opened, recorded };
}
