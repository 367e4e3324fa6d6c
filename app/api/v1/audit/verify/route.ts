import { getDb } from "@/db/client";
import { walkAudit } from "@/db/queries/audit";
import { route } from "@/lib/http/route";
import { verifyChain, type AuditRow } from "@/lib/services/audit/chain";
import { auditKey } from "@/lib/services/audit/key";

export const GET = route("audit:read", async () => {
  const rows: AuditRow[] = [];
  for await (const row of walkAudit(await getDb())) rows.push(row);
  return verifyChain(rows, auditKey());
});
