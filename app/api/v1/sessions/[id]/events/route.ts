import { getDb } from "@/db/client";
import { sessionEventsPage } from "@/db/queries/sessions";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";

/** Paged events: ?after=SEQ&limit=N. */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  await readableSession(caller, id);
  const p = new URL(req.url).searchParams;
  const events = await sessionEventsPage(await getDb(), id, Number(p.get("after") ?? 0) || 0, Number(p.get("limit") ?? 1000) || 1000);
  return { events };
});
