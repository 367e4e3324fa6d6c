import { desc, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { policyVersions } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { compilePolicySet, getPolicyRuntime } from "@/lib/gateway/policy";
import { diffStats, lineDiff } from "@/lib/util/line-diff";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { hiddenCharacterProblem } from "./hidden-characters";

export const policyInput = z.object({
  text: z.string().min(1).max(256 * 1024),
  comment: z.string().max(500).default(""),
});

const POLICY_LOCK = 7347003;
/** How long a save waits for this process to install what it saved before answering 503. */
const INSTALL_WAIT_MS = 10_000;

/**
 * Saves a new policy version. The text must validate against the Gatehouse schema; a set that
 * does not is refused with Cedar's errors (line and column) and nothing changes. Every process
 * loads the new version when `policy.changed` arrives; the answer waits until this one has.
 */
export async function savePolicies(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "policies:write");
  const data = policyInput.parse(input);
  const hidden = hiddenCharacterProblem(data.text);
  if (hidden) throw new GatehouseError("INVALID", `${hidden.message} (line ${hidden.line}, column ${hidden.column})`, { errors: [hidden] });
  const compiled = compilePolicySet(data.text);
  if (!compiled.ok) throw new GatehouseError("INVALID", `the policy set does not validate: ${compiled.errors[0]?.message ?? "unknown error"}`, { errors: compiled.errors });
  const saved = await mutate(db, async (tx, emit) => {
    await tx.execute(sql.raw(`select pg_advisory_xact_lock(${POLICY_LOCK})`));
    const [prev] = await tx.select({ version: policyVersions.version, text: policyVersions.text }).from(policyVersions).orderBy(desc(policyVersions.version)).limit(1);
    const version = (prev?.version ?? 0) + 1;
    await tx.insert(policyVersions).values({ version, text: data.text, authorId: who.userId || null, comment: data.comment });
    const stats = diffStats(lineDiff(prev?.text ?? "", data.text));
    await appendAudit(tx, who, { action: "policy.save", subject: `policy:v${version}`, detail: { comment: data.comment, ...stats, policies: compiled.policies.map((p) => p.id) } });
    emit(Topics.policyChanged, { version });
    return { version, warnings: compiled.warnings };
  });
  // Answered once this process enforces it: a statement sent right after the answer is decided by
  // the new version. Other processes load it on `policy.changed` (or their next poll).
  if (!(await getPolicyRuntime().whenInstalled(saved.version, INSTALL_WAIT_MS))) {
    throw new GatehouseError("UNAVAILABLE", `policy version ${saved.version} was saved but is not in force yet (it could not be loaded within ${INSTALL_WAIT_MS / 1000} s); every process keeps trying to load it`);
  }
  return saved;
}
