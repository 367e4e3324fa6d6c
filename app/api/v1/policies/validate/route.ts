import { z } from "zod";
import { compilePolicySet } from "@/lib/gateway/policy";
import { jsonBody, route } from "@/lib/http/route";
import { hiddenCharacterProblem } from "@/lib/services/policies/hidden-characters";

/** Validation as you type: parse + schema check, no save. */
export const POST = route("policies:read", async (req) => {
  const { text } = z.object({ text: z.string().max(256 * 1024) }).parse(await jsonBody(req));
  const r = compilePolicySet(text);
  const hidden = hiddenCharacterProblem(text);
  return { ok: r.ok && !hidden, errors: hidden ? [hidden, ...r.errors] : r.errors, warnings: r.warnings, policies: r.policies.map((p) => ({ id: p.id, effect: p.effect, line: p.line })) };
});
