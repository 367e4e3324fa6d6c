import { z } from "zod";
import { getDb } from "@/db/client";
import { recentAudit } from "@/db/queries/audit";
import { limitParam, parseQuery } from "@/lib/http/paging";
import { route } from "@/lib/http/route";

const Query = z.object({ limit: limitParam(200, 1000) });

export const GET = route("audit:read", async (req) => {
  const { limit } = parseQuery(req, Query);
  return { entries: await recentAudit(await getDb(), { limit }) };
});
