import { z } from "zod";
import { getDb } from "@/db/client";
import { sessionEventsPage } from "@/db/queries/sessions";
import { afterSeqParam, limitParam, parseQuery } from "@/lib/http/paging";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";

const Query = z.object({ after: afterSeqParam, limit: limitParam(1000, 5000) });

/** Paged events: ?after=SEQ&limit=N. */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  await readableSession(caller, id);
  const q = parseQuery(req, Query);
  return { events: await sessionEventsPage(await getDb(), id, q.after, q.limit) };
});
