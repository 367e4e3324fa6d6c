import { z } from "zod";
import { getDb } from "@/db/client";
import { parseQuery } from "@/lib/http/paging";
import { route } from "@/lib/http/route";
import { expireOverdue } from "@/lib/services/approvals/expire";
import { overviewStats } from "@/lib/stats/overview";

const Query = z.object({ range: z.enum(["24h", "7d", "30d"]).default("7d") });

/**
 * The Overview's numbers. Everyone signed in may ask; what is counted is what the caller's session
 * and approval lists would show (lib/stats/overview.ts), gateway nodes only to who may see all.
 */
export const GET = route("sessions:read-own", async (req, caller) => {
  const { range } = parseQuery(req, Query);
  const db = await getDb();
  await expireOverdue(db);
  return overviewStats(db, caller, range);
});
