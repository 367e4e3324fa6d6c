import type { MaskChannel, Masker } from "@/lib/gateway/masking";
import { maskerInternals } from "@/lib/gateway/masking/masker";
import { maskingOf } from "@/lib/gateway/policy";
import { getMaskingRuntime } from "./masking-runtime";
import type { ClassifiedRequest, ClientInfo, Verdict } from "./types";

/**
 * What GatewaySession.decide() answers an adapter, and what it records of a request. The
 * adapter obeys the Decision: runs the request (masking its output with `masker` when one is
 * given) or refuses it with `reason` in its protocol's own words.
 */
export type Decision =
  | {
      type: "allow";
      verdict: Verdict;
      masker: Masker | null;
      requestSeq: number;
      approvalId?: number;
      /** the session's standing-decision epoch its inputs were read at (StandingDecisions.epoch) */
      epoch: number;
    }
  /** `withdrawn`: a hold given up through DecideOptions.signal (the caller cancelled it), not refused */
  | { type: "deny"; verdict: Verdict | null; reason: string; requestSeq: number; approvalId?: number; withdrawn?: true };

export type Allowed = Extract<Decision, { type: "allow" }>;
export type Held = Extract<Verdict, { type: "hold" }>;

export interface HeldNotice {
  approvalId: number;
  url: string;
}

export interface DecideOptions {
  /** called as soon as a request is held, so the client can be told where to get it approved */
  onHeld?: (notice: HeldNotice) => void;
  signal?: AbortSignal;
  /** max time to wait for an approval (default: until the request expires) */
  holdTimeoutMs?: number;
}

/** Why a request whose result cannot be masked is refused where masking applies, with what to do instead. */
export const UNMASKABLE: Record<NonNullable<ClassifiedRequest["unmaskable"]>, string> = {
  transfer: "masking applies to you here, and what this returns cannot be masked (files over SFTP, scp or rsync); read the file with a command instead (its output is masked)",
  transform: "masking applies to you here, and what this returns cannot be masked (the command re-encodes or cuts up its output: rev, base64, xxd, tr, cut, awk, ...); run it without the transform (its output is masked)",
};

/**
 * Why masking refuses a request outright where it applies, or null: its result cannot be masked
 * (`unmaskable`), or it would reveal values a rule masks (`inference`). An analysis that throws
 * refuses (fail closed).
 */
export async function maskedRefusal(request: ClassifiedRequest, masker: Masker | null): Promise<string | null> {
  if (!masker?.active) return null;
  if (request.unmaskable) return UNMASKABLE[request.unmaskable];
  try {
    if (!request.inference) return null;
    return await request.inference(maskerInternals(masker).applied, masker);
  } catch {
    return "masking applies to you here, and what this statement reveals of masked columns could not be analysed";
  }
}

const CHANNEL: Record<ClientInfo["protocol"], MaskChannel> = { postgres: "sql", mysql: "sql", ssh: "terminal", kubernetes: "terminal", http: "http", mcp: "mcp" };

/** The masker for `ruleSets` on what this protocol returns; null when no rule set applies. */
export function maskerOf(ruleSets: readonly string[], protocol: ClientInfo["protocol"]): Masker | null {
  return ruleSets.length ? getMaskingRuntime().maskerFor(ruleSets, CHANNEL[protocol]) : null;
}

/** The masker a verdict asks for. */
export const maskerFor = (verdict: Verdict | null, protocol: ClientInfo["protocol"]) => maskerOf(maskingOf(verdict), protocol);

/**
 * The recorded event of a decided request, with its decision: under masking, literals in the
 * statement and its parameters are masked in the recording too (the recording is read by more
 * people than the data). One event instead of a request and a verdict: a SQL statement costs the
 * recorder two rows (request, result) instead of three. Older recordings have separate
 * `verdict` events. Without a verdict (the decision failed), `failure` is the recorded reason.
 */
/** A policy's refusal reason, with why the request is of its kind when its text does not say (`kindWhy`). */
export function refusalReason(reason: string, request: ClassifiedRequest): string {
  return request.kindWhy ? `${reason} (the statement is ${request.kind}: ${request.kindWhy})` : reason;
}

export function requestEvent(request: ClassifiedRequest, masker: Masker | null, verdict: Verdict | null, failure: string) {
  const mask = (text: string) => (masker ? masker.maskText(text) : text);
  return {
    action: request.action,
    kind: request.kind,
    tables: request.tables,
    functions: request.functions,
    text: mask(request.shown ?? request.text),
    ...(request.kindWhy ? { kindWhy: mask(request.kindWhy) } : {}),
    ...(request.params ? { params: request.params.map((p) => (p === null ? null : mask(p))) } : {}),
    ...(verdict
      ? { verdict: verdict.type, policies: verdict.policies, ...(verdict.type === "deny" ? { reason: verdict.reason } : {}) }
      : { verdict: "deny", policies: [], reason: failure }),
  };
}
