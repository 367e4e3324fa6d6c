/**
 * Approval settings from the environment, read on every use (cheap) so tests and operators can
 * change them without a restart of the module graph. A malformed value falls back to the
 * default with a warning rather than throwing inside a hold, where a throw means "deny".
 */
import { loadConfig } from "@/lib/config/env";

const DEFAULT_TTL_SECONDS = 15 * 60;
const warned = new Set<string>();

function warnOnce(name: string, raw: string) {
  if (warned.has(name)) return;
  warned.add(name);
  console.warn(`[approvals] ignoring ${name}="${raw}" (not a valid value); using the default`);
}

/** How long a pending request waits for approvers before it expires (GATEHOUSE_APPROVAL_TTL_SECONDS). */
export function approvalTtlSeconds(): number {
  const raw = process.env.GATEHOUSE_APPROVAL_TTL_SECONDS;
  if (!raw) return DEFAULT_TTL_SECONDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 7 * 24 * 3600) {
    warnOnce("GATEHOUSE_APPROVAL_TTL_SECONDS", raw);
    return DEFAULT_TTL_SECONDS;
  }
  return n;
}

/** Groups whose members approve just-in-time access requests (GATEHOUSE_ACCESS_APPROVERS, comma-separated). */
export function accessApproverGroups(): string[] {
  const groups = (process.env.GATEHOUSE_ACCESS_APPROVERS ?? "")
    .split(",")
    .map((g) => g.trim())
    .filter(Boolean);
  return groups.length ? [...new Set(groups)].sort() : ["approvers"];
}

export function publicBaseUrl(): string {
  const explicit = process.env.GATEHOUSE_PUBLIC_URL;
  if (explicit) return explicit.replace(/\/$/, "");
  try {
    return loadConfig().publicUrl;
  } catch {
    return "http://127.0.0.1:3000";
  }
}

/** Where an approver decides this request in the console. */
export function approvalUrl(id: number): string {
  return `${publicBaseUrl()}/approvals/${id}`;
}

export interface WebhookSettings {
  url: string;
  format: "slack" | "json";
}

export function webhookSettings(): WebhookSettings | null {
  const url = process.env.GATEHOUSE_APPROVAL_WEBHOOK_URL;
  if (!url) return null;
  const format = process.env.GATEHOUSE_APPROVAL_WEBHOOK_FORMAT === "slack" ? "slack" : "json";
  return { url, format };
}

/** Pending requests one requester (a user, or one top-level agent with its sub-agents) may have at once: a flood of holds cannot bury the queue. */
export const MAX_PENDING_PER_REQUESTER = 25;
