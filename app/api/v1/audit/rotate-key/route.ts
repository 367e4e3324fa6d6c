import { getDb } from "@/db/client";
import { jsonBody, route } from "@/lib/http/route";
import { rotateAuditKey } from "@/lib/services/audit/rotate-key";

/** Admins only: rotates the audit key to this process's GATEHOUSE_AUDIT_KEY (lib/services/audit/rotate-key.ts). */
export const POST = route("audit:rotate", async (req, caller) => rotateAuditKey(await getDb(), caller, await jsonBody(req)));
