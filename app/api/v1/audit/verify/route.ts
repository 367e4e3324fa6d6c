import { z } from "zod";
import { getDb } from "@/db/client";
import { walkAudit } from "@/db/queries/audit";
import { route } from "@/lib/http/route";
import { seenRotation } from "@/lib/services/audit/append";
import { verifyChain, type AuditRow } from "@/lib/services/audit/chain";
import { auditKeyRing } from "@/lib/services/audit/key";

const Query = z.object({ head: z.string().regex(/^[0-9a-f]{64}$/, "head is a hash from an earlier verify: 64 hex digits").optional() });

/**
 * ?head=H: H, the head an earlier verify (or rotate-key) reported, must still be in the log
 * (truncation shows). The newest key rotation this server saw must be in it where it was.
 */
export const GET = route("audit:read", async (req) => {
  const q = Query.parse(Object.fromEntries(new URL(req.url).searchParams));
  const rows: AuditRow[] = [];
  for await (const row of walkAudit(await getDb())) rows.push(row);
  return verifyChain(rows, auditKeyRing(), { head: q.head, rotation: seenRotation() });
});
