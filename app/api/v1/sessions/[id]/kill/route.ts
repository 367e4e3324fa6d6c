import { getDb } from "@/db/client";
import { jsonBody, route } from "@/lib/http/route";
import { killSession } from "@/lib/services/sessions/kill";

export const POST = route<{ id: string }>("sessions:kill", async (req, caller, { id }) => {
  const body = (await jsonBody(req)) as { reason?: unknown };
  return killSession(await getDb(), caller, id, { reason: typeof body.reason === "string" ? body.reason : undefined });
});
