import { getDb } from "@/db/client";
import { recentAudit } from "@/db/queries/audit";
import { route } from "@/lib/http/route";

export const GET = route("audit:read", async (req) => {
  const limit = Number(new URL(req.url).searchParams.get("limit") ?? 200);
  return { entries: await recentAudit(await getDb(), { limit: Number.isFinite(limit) ? limit : 200 }) };
});
