import { flag, parseDuration, positionals, str, UsageError } from "../args";
import type { Command, Context, Group } from "../command";
import { CliError } from "../http";
import { formatTime } from "../output";

/** The REST shape of an approval request (lib/services/approvals/public.ts). */
interface Approval {
  id: number;
  kind: "statement" | "access";
  status: string;
  connection: string;
  /** the connection was deleted since */
  connectionDeleted?: boolean;
  requester: string;
  chain: { kind: string; id: string; name: string }[];
  sessionId: string | null;
  request: { action?: string; text?: string; durationSeconds?: number; [k: string]: unknown };
  reason: string;
  approverGroups: string[];
  minApprovals: number;
  approvals: number;
  durationSeconds: number | null;
  windowUntil: string | null;
  expiresAt: string;
  decidedAt: string | null;
  createdAt: string;
  url: string;
  /** detail only (show, wait, access request) */
  decisions?: { approver: string; decision: "approve" | "deny"; comment: string; windowSeconds: number | null; at: string }[];
  grant?: Grant | null;
}

interface Grant {
  id: string;
  userId: string;
  /** null once the connection is deleted */
  connectionId: string | null;
  requestId: number | null;
  expiresAt: string;
  revokedAt: string | null;
  createdAt: string;
  /** list only */
  user?: string;
  /** list only: the delegation chain of the agent token the grant holds for (and the agents it spawns); null: all the user's sessions */
  actor?: string | null;
  connection?: string;
  active?: boolean;
}

interface Decided {
  approval: { id: number; status: string; approvals: number; minApprovals: number; windowUntil: string | null };
  grant: { id: string; connectionId: string; expiresAt: string } | null;
}

interface Waited {
  approval: Approval;
  status: string;
  decided: boolean;
}

const STATUSES = ["pending", "decided", "all", "approved", "denied", "expired", "cancelled", "used"];
/** "used": a statement approval that has since run; it was approved. */
const APPROVED = new Set(["approved", "used"]);
/** The server holds one long-poll for at most this long. */
const MAX_POLL_SECONDS = 60;

const path = (id: string) => `/approvals/${encodeURIComponent(id)}`;

function approvalId(text: string): string {
  const id = text.replace(/^#/, "");
  if (!/^\d+$/.test(id) || Number(id) < 1) throw new UsageError(`'${text}' is not an approval id (a number, as shown by 'approvals list')`);
  return id;
}

/** A wait in seconds: like --ttl (60, 5m), but 0 is allowed and means "do not wait". */
function waitSeconds(text: string, option: string): number {
  return /^0+$/.test(text.trim()) ? 0 : parseDuration(text, option);
}

function human(seconds: number | null | undefined): string {
  if (!seconds) return "-";
  const parts: string[] = [];
  for (const [unit, n] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (seconds >= n) {
      parts.push(`${Math.floor(seconds / n)}${unit}`);
      seconds %= n;
    }
  }
  return parts.join("");
}

/** What is being asked for, on one line. */
function what(a: Approval): string {
  if (a.kind === "access") return `access for ${human(a.durationSeconds ?? a.request.durationSeconds)}`;
  const text = String(a.request.text ?? "").replace(/\s+/g, " ").trim();
  return `${a.request.action ?? "?"}: ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

/** "alice@x → claude": who asked, and through which agents. */
function who(a: Approval): string {
  const agents = a.chain.slice(1).map((c) => c.name);
  return [a.requester, ...agents].join(" → ");
}

/**
 * The client gives up on a request after GATEHOUSE_TIMEOUT_MS (30 s by default); each long-poll
 * asks the server for a little less than that, and the loop covers the rest of the wait.
 */
function pollSeconds(ctx: Context): number {
  const clientTimeout = Math.floor((Number(ctx.env.GATEHOUSE_TIMEOUT_MS) || 30_000) / 1000);
  return Math.max(1, Math.min(MAX_POLL_SECONDS, clientTimeout - 5));
}

/** Long-polls /approvals/ID/wait until the request is decided or `seconds` have passed. */
async function waitFor(ctx: Context, id: string | number, seconds: number): Promise<Waited> {
  const api = ctx.api();
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    const res = await api.get<Waited>(`${path(String(id))}/wait`, { timeout: String(Math.min(left, pollSeconds(ctx))) });
    if (res.decided || res.status !== "pending" || Date.now() >= deadline) return res;
  }
}

/**
 * After a wait: exit 0 only when approved, so `gatehouse approvals wait 12 && deploy` works.
 * The result is printed first (stdout); the failure is also an error (stderr), like `audit verify`.
 */
function outcome(a: Approval, waitedFor: number): void {
  if (APPROVED.has(a.status)) return;
  if (a.status === "pending") throw new CliError("TIMEOUT", `approval #${a.id} is still pending after ${human(waitedFor) === "-" ? "0s" : human(waitedFor)}`);
  const why = a.decisions?.find((d) => d.decision === "deny")?.comment;
  throw new CliError("NOT_APPROVED", `approval #${a.id} was ${a.status}${why ? `: ${why}` : ""}`);
}

/** A deleted connection's requests are kept as evidence: say it is gone. */
const connectionOf = (a: Approval) => (a.connectionDeleted ? `${a.connection} (deleted)` : a.connection);

function printApproval(ctx: Context, a: Approval): void {
  ctx.out.fields([
    ["id", `#${a.id}`],
    ["status", a.status],
    ["kind", a.kind],
    ["connection", connectionOf(a)],
    ["requester", who(a)],
    ["request", a.kind === "access" ? what(a) : `${a.request.action ?? "?"}`],
    ...(a.kind === "statement" ? ([["statement", a.request.text ?? ""]] as [string, unknown][]) : []),
    ["reason", a.reason],
    ["approvers", `${a.approvals}/${a.minApprovals} from ${a.approverGroups.join(" or ")}`],
    ["created", formatTime(a.createdAt)],
    [a.status === "pending" ? "expires" : "decided", formatTime(a.status === "pending" ? a.expiresAt : a.decidedAt)],
    ...(a.windowUntil ? ([["window until", formatTime(a.windowUntil)]] as [string, unknown][]) : []),
    ...(a.grant ? ([["grant", `${a.grant.id} until ${formatTime(a.grant.expiresAt)}${a.grant.revokedAt ? ` (revoked ${formatTime(a.grant.revokedAt)})` : ""}`]] as [string, unknown][]) : []),
    ["url", a.url],
  ]);
  for (const d of a.decisions ?? []) {
    ctx.out.line(`  ${formatTime(d.at)}  ${d.decision === "approve" ? "approved" : "denied"} by ${d.approver}${d.windowSeconds ? ` (window ${human(d.windowSeconds)})` : ""}${d.comment ? `: ${d.comment}` : ""}`);
  }
}

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list approval requests (default: pending)",
  usage: "list [--status pending|decided|all] [--mine]",
  help: `  --status S   pending (default), decided, all, or one of approved, denied, expired, cancelled, used
  --mine       only requests waiting for your decision (approvers)

Members see only their own requests; approvers, admins and auditors see everyone's.`,
  options: { status: { type: "string" }, mine: { type: "boolean" } },
  async run(ctx, args) {
    positionals(args);
    const status = str(args.values, "status") ?? "pending";
    if (!STATUSES.includes(status)) throw new UsageError(`--status must be one of ${STATUSES.join(", ")}`);
    const mine = flag(args.values, "mine");
    const res = await ctx.api().get<{ approvals: Approval[] }>("/approvals", { status, mine: mine ? "1" : undefined });
    ctx.out.result(res, () =>
      ctx.out.table(
        res.approvals,
        [
          { header: "ID", value: (a) => a.id },
          { header: "STATUS", value: (a) => a.status },
          { header: "CONNECTION", value: (a) => connectionOf(a) },
          { header: "REQUESTER", value: (a) => who(a) },
          { header: "APPROVALS", value: (a) => `${a.approvals}/${a.minApprovals} ${a.approverGroups.join(",")}` },
          { header: "CREATED", value: (a) => formatTime(a.createdAt) },
          { header: "REQUEST", value: (a) => what(a) },
        ],
        status === "pending" ? "no pending approval requests" : "no approval requests",
      ),
    );
  },
};

const show: Command = {
  name: "show",
  aliases: ["get"],
  summary: "one approval request with its decisions",
  usage: "show ID",
  async run(ctx, args) {
    const [id] = positionals(args, "ID");
    const res = await ctx.api().get<{ approval: Approval }>(path(approvalId(id)));
    ctx.out.result(res, () => printApproval(ctx, res.approval));
  },
};

function decidedLine(verb: string, res: Decided): string {
  const a = res.approval;
  if (a.status === "pending") return `recorded your approval of #${a.id}: ${a.approvals} of ${a.minApprovals} approvals, still pending`;
  const extra = [
    a.windowUntil ? `the same request is approved again until ${formatTime(a.windowUntil)}` : "",
    res.grant ? `access granted until ${formatTime(res.grant.expiresAt)}` : "",
  ].filter(Boolean);
  return `${verb} #${a.id} (now ${a.status})${extra.length ? `; ${extra.join("; ")}` : ""}`;
}

const approve: Command = {
  name: "approve",
  summary: "approve a pending request",
  usage: "approve ID [--window 1h] [--comment C]",
  help: `  --window D    statements only: the same statement is approved again for D (max 8h)
  --comment C   shown to the requester and kept in the audit log`,
  options: { window: { type: "string" }, comment: { type: "string" } },
  async run(ctx, args) {
    const [raw] = positionals(args, "ID");
    const id = approvalId(raw);
    const window = str(args.values, "window");
    const comment = str(args.values, "comment");
    const body = {
      ...(comment !== undefined ? { comment } : {}),
      ...(window !== undefined ? { windowSeconds: parseDuration(window, "--window") } : {}),
    };
    const res = await ctx.api().post<Decided>(`${path(id)}/approve`, body);
    ctx.out.result(res, () => ctx.out.line(decidedLine("approved", res)));
  },
};

const deny: Command = {
  name: "deny",
  summary: "deny a pending request (the reason is shown to the requester)",
  usage: "deny ID --reason R",
  help: `  --reason R   why; shown to the requester and kept in the audit log`,
  options: { reason: { type: "string" } },
  async run(ctx, args) {
    const [raw] = positionals(args, "ID");
    const id = approvalId(raw);
    const reason = str(args.values, "reason");
    if (!reason?.trim()) throw new UsageError("--reason is required: say why, the requester sees it");
    const res = await ctx.api().post<Decided>(`${path(id)}/deny`, { reason });
    ctx.out.result(res, () => ctx.out.line(decidedLine("denied", res)));
  },
};

const wait: Command = {
  name: "wait",
  summary: "wait for a decision; exit 0 only if approved",
  usage: "wait ID [--timeout 60]",
  help: `  --timeout D   how long to wait: 60 (default), 90s, 10m; 0 checks once

Exit 0 when approved, 1 when denied, expired or cancelled (NOT_APPROVED) or still pending at
the timeout (TIMEOUT); the request is printed either way.`,
  options: { timeout: { type: "string" } },
  async run(ctx, args) {
    const [raw] = positionals(args, "ID");
    const id = approvalId(raw);
    const timeout = waitSeconds(str(args.values, "timeout") ?? "60", "--timeout");
    const res = await waitFor(ctx, id, timeout);
    ctx.out.result(res, () => printApproval(ctx, res.approval));
    outcome(res.approval, timeout);
  },
};

export const approvals: Group = {
  name: "approvals",
  summary: "approval requests: held statements and access requests",
  commands: [list, show, approve, deny, wait],
};

interface Requested {
  approval: Approval;
  status: string;
  grant?: Grant;
}

const request: Command = {
  name: "request",
  summary: "ask for temporary (just-in-time) access to a connection",
  usage: "request CONNECTION --duration 1h --reason R [--wait 60]",
  help: `  --duration D   how long the access should last once approved: 30m, 1h, ... (max 24h)
  --reason R     why; approvers see it
  --wait D       wait up to D for the decision (0, the default, returns at once); with a wait,
                 exit 0 only if approved (else NOT_APPROVED or TIMEOUT, exit 1)`,
  options: { duration: { type: "string" }, reason: { type: "string" }, wait: { type: "string" } },
  async run(ctx, args) {
    const [connection] = positionals(args, "CONNECTION");
    const durationText = str(args.values, "duration");
    const reason = str(args.values, "reason");
    if (!durationText) throw new UsageError("--duration is required (e.g. 1h)");
    if (!reason?.trim()) throw new UsageError("--reason is required: say why you need access");
    const durationSeconds = parseDuration(durationText, "--duration");
    const waitText = str(args.values, "wait");
    const wait = waitText === undefined ? 0 : waitSeconds(waitText, "--wait");
    const started = Date.now();
    const first = Math.min(wait, pollSeconds(ctx));
    let res: Requested = await ctx.api().post<Requested>("/access-requests", { connection, durationSeconds, reason, ...(first ? { wait: first } : {}) });
    const left = wait - Math.floor((Date.now() - started) / 1000);
    if (wait && res.status === "pending" && left > 0) {
      const waited = await waitFor(ctx, res.approval.id, left);
      res = { approval: waited.approval, status: waited.status, grant: waited.approval.grant ?? undefined };
    }
    const a = res.approval;
    ctx.out.result(res, () => {
      if (APPROVED.has(res.status)) {
        ctx.out.line(`access to ${a.connection} approved (#${a.id})${res.grant ? `: granted until ${formatTime(res.grant.expiresAt)}` : ""}`);
      } else if (res.status === "pending") {
        ctx.out.line(`access request #${a.id} for ${a.connection} (${human(durationSeconds)}) is pending; approvers: ${a.approverGroups.join(", ")}`);
        ctx.out.note(`wait for it with 'gatehouse approvals wait ${a.id}'; approvers can open ${a.url}`);
      } else {
        ctx.out.line(`access request #${a.id} for ${a.connection} was ${res.status}`);
      }
    });
    if (wait) outcome(a, wait);
  },
};

const grants: Command = {
  name: "grants",
  summary: "list access grants (yours; approvers and admins see everyone's)",
  usage: "grants [--active]",
  help: `  --active   only grants that are neither expired nor revoked`,
  options: { active: { type: "boolean" } },
  async run(ctx, args) {
    positionals(args);
    const res = await ctx.api().get<{ grants: Grant[] }>("/grants", { active: flag(args.values, "active") ? "1" : undefined });
    ctx.out.result(res, () =>
      ctx.out.table(
        res.grants,
        [
          { header: "ID", value: (g) => g.id },
          { header: "USER", value: (g) => g.user },
          { header: "FOR", value: (g) => g.actor ?? "all their sessions" },
          { header: "CONNECTION", value: (g) => (g.connectionId ? g.connection : `${g.connection} (deleted)`) },
          { header: "APPROVAL", value: (g) => (g.requestId ? `#${g.requestId}` : "") },
          { header: "EXPIRES", value: (g) => formatTime(g.expiresAt) },
          { header: "STATE", value: (g) => (g.revokedAt ? "revoked" : g.active ? "active" : "expired") },
        ],
        "no access grants",
      ),
    );
  },
};

export const access: Group = {
  name: "access",
  summary: "just-in-time access requests and grants",
  commands: [request, grants],
};
