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

/** Masks sample text; nothing is stored. Used by the console's live preview and `gatehouse masking test`. */
export const POST = route("masking:read", async (req) => {
  const data = input.parse(await jsonBody(req));
  let masker;
  if (data.rule) {
    // The editor sends the rule as it will be saved; its rule set is not part of the rule itself.
    const { ruleSet: _set, ...rule } = data.rule;
    const v = validateRule({ id: "preview", name: "preview", ...rule });
    if (!v.ok) throw new GatehouseError("INVALID", v.errors.join("; "), { errors: v.errors });
    masker = compileMasker([v.rule], { hashKey: "preview-only", channel: data.channel });
  } else {
    masker = getMaskingRuntime().maskerFor(data.ruleSets, data.channel);
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
