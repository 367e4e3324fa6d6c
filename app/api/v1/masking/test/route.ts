import { z } from "zod";
import { getMaskingRuntime } from "@/lib/gateway/core/masking-runtime";
import { GatehouseError } from "@/lib/gateway/core/types";
import { compileMasker, MASK_CHANNELS, validateRule } from "@/lib/gateway/masking";
import { jsonBody, route } from "@/lib/http/route";

const input = z.object({
  text: z.string().max(100_000),
  /** test an unsaved rule (the editor's live preview) … */
  rule: z.record(z.string(), z.unknown()).optional(),
  /** … or the stored rules of these sets ("*" = all enabled) */
  ruleSets: z.array(z.string().max(64)).max(32).default(["*"]),
  /** mask as a value of this column (table.column), so column rules apply too */
  column: z.string().max(200).optional(),
  channel: z.enum(MASK_CHANNELS).default("sql"),
});

/**
 * Masks sample text; nothing is stored. Used by the console's live preview and `gatehouse masking test`.
 *
 * Always with a preview-only hash key, stored rules too: with the real key, the "hash" style's
 * tokens here were the very ones masked sessions show, so anyone who may read masking rules
 * (every role) could confirm a guess for a value an agent or a masked user was shown only as
 * h_c03a0f1ca2c4 ("is it ada.lovelace0@example.com?"), one request per guess.
 */
const PREVIEW_HASH_KEY = "preview-only";
export const POST = route("masking:read", async (req) => {
  const data = input.parse(await jsonBody(req));
  let masker;
  if (data.rule) {
    // The editor sends the rule as it will be saved; its rule set is not part of the rule itself.
    const { ruleSet: _set, ...rule } = data.rule;
    const v = validateRule({ id: "preview", name: "preview", ...rule });
    if (!v.ok) throw new GatehouseError("INVALID", v.errors.join("; "), { errors: v.errors });
    masker = compileMasker([v.rule], { hashKey: PREVIEW_HASH_KEY, channel: data.channel });
  } else {
    masker = compileMasker(getMaskingRuntime().rulesFor(data.ruleSets), { hashKey: PREVIEW_HASH_KEY, channel: data.channel });
  }
  let masked: string | null;
  if (data.column) {
    const [table, column] = data.column.includes(".") ? data.column.split(".", 2) : [undefined, data.column];
    masked = masker.maskValue(data.text, masker.columnPlan({ table, column }));
  } else {
    masked = masker.maskText(data.text);
  }
  return { masked, counts: masker.counts() };
});
