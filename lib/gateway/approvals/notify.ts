/**
 * Approval webhooks (GATEHOUSE_APPROVAL_WEBHOOK_URL, format slack|json): one POST when a request
 * is created and one per decision. They leave the trust boundary (Slack, a chat bot), so they
 * carry only what an approver needs to recognise the request: never parameters, never results,
 * and statement text with its literals redacted. Fire-and-forget: a slow or dead webhook must
 * never delay a hold or a decision.
 */
import { webhookSettings, type WebhookSettings } from "./config";

export type ApprovalEvent = "approval.created" | "approval.decided";

export interface ApprovalSummary {
  id: number;
  kind: string;
  status: string;
  connection: string;
  requester: string;
  /** actor names, root first */
  chain: string[];
  action: string;
  /** raw text; redacted and clipped before it is sent */
  text: string;
  reason: string;
  approverGroups: string[];
  minApprovals: number;
  approvals: number;
  expiresAt: string;
  decision?: { by: string; decision: "approve" | "deny"; comment: string };
}

const TIMEOUT_MS = 5000;
const MAX_TEXT = 300;

/** Replaces the content of quoted literals (values, possibly secrets or PII) with "…". */
export function redactLiterals(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'" || c === '"') {
      // Backslash is treated as an escape here: if it was not one, we only redact more.
      let j = i + 1;
      while (j < text.length && !(text[j] === c && text[j + 1] !== c)) j += text[j] === "\\" || text[j] === c ? 2 : 1;
      out += `${c}…${c}`;
      i = j + 1;
      continue;
    }
    const tag = c === "$" ? /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 70)) : null;
    if (tag) {
      const close = text.indexOf(tag[0], i + tag[0].length);
      out += `${tag[0]}…${tag[0]}`;
      i = close < 0 ? text.length : close + tag[0].length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

function clip(s: string, max: number) {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export function webhookBody(format: WebhookSettings["format"], event: ApprovalEvent, a: ApprovalSummary, url: string) {
  const approval = {
    id: a.id,
    kind: a.kind,
    status: a.status,
    connection: a.connection,
    requester: a.requester,
    chain: a.chain,
    action: a.action,
    text: clip(redactLiterals(a.text), MAX_TEXT),
    reason: clip(a.reason, MAX_TEXT),
    approverGroups: a.approverGroups,
    minApprovals: a.minApprovals,
    approvals: a.approvals,
    expiresAt: a.expiresAt,
    ...(a.decision ? { decision: { ...a.decision, comment: clip(a.decision.comment, MAX_TEXT) } } : {}),
  };
  if (format === "json") return { event, approval, url };
  const headline =
    event === "approval.created"
      ? `Approval #${a.id} requested by ${slackEscape(a.chain.join(" → "))} on ${slackEscape(a.connection)}`
      : `Approval #${a.id} ${a.decision?.decision === "deny" ? "denied" : "approved"} by ${slackEscape(a.decision?.by ?? "?")} — now ${a.status} (${a.approvals}/${a.minApprovals})`;
  const what = a.kind === "access" ? `just-in-time access: ${slackEscape(approval.reason)}` : `${a.action}: \`${slackEscape(approval.text).replace(/`/g, "'")}\``;
  return {
    text: `${headline}: ${url}`,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: `*${headline}*\n${what}` } },
      { type: "context", elements: [{ type: "mrkdwn", text: `approvers: ${slackEscape(a.approverGroups.join(", "))} · <${url}|open in Gatehouse>` }] },
    ],
  };
}

function slackEscape(s: string) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Posts the event if a webhook is configured. Returns the attempt so tests can await it. */
export function notifyApproval(event: ApprovalEvent, summary: ApprovalSummary, url: string, settings = webhookSettings()): Promise<void> {
  if (!settings) return Promise.resolve();
  const body = JSON.stringify(webhookBody(settings.format, event, summary, url));
  return fetch(settings.url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(TIMEOUT_MS) })
    .then(async (res) => {
      await res.body?.cancel().catch(() => {});
      // The URL is not logged: a Slack webhook URL is itself a credential.
      if (!res.ok) console.warn(`[approvals] webhook for ${event} #${summary.id} answered ${res.status}`);
    })
    .catch((err: Error) => console.warn(`[approvals] webhook for ${event} #${summary.id} failed: ${err.name === "TimeoutError" ? "timed out" : err.message}`));
}
