import { z } from "zod";
import { parseSerialId } from "@/lib/util/serial-id";

/** Free text an approver writes; bounded so nobody can flood the queue or the audit log. */
export const comment = z.string().max(1000, "comments are limited to 1000 characters");
/** Why someone asks (access requests) or refuses (deny): a little more room than a comment. */
export const reason = z.string().max(2000, "reasons are limited to 2000 characters");

/** 8 hours: the longest an approver can pre-approve the same statement for. */
export const MAX_WINDOW_SECONDS = 8 * 3600;

export const decisionInput = z.object({
  decision: z.enum(["approve", "deny"]),
  comment: comment.optional(),
  reason: reason.optional(),
  windowSeconds: z.number().int().min(1).max(MAX_WINDOW_SECONDS).optional(),
});
export type DecisionInput = z.input<typeof decisionInput>;

/** Approval ids are serial integers; anything else is "no such approval", not a 500. */
export const parseApprovalId = parseSerialId;
