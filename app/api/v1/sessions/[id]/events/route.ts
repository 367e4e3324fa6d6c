import { z } from "zod";
import { getDb } from "@/db/client";
import { sessionEventsPage } from "@/db/queries/sessions";
import { afterSeqParam, limitParam, parseQuery } from "@/lib/http/paging";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";
import { auditRecordingPiece, readVia } from "@/lib/services/sessions/audit-read";

const Query = z.object({ after: afterSeqParam, limit: limitParam(1000, 5000) });

/** Paged events: ?after=SEQ&limit=N. */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  const session = await readableSession(caller, id);
  const q = parseQuery(req, Query);
  const db = await getDb();
  // A query session's replay is its events, paged: audited once per reader and session a while, not per page.
  await auditRecordingPiece(db, caller, session, session.status === "live" ? "session.watch" : "session.replay", { ...readVia(req, caller), events: true });
  return { events: await sessionEventsPage(db, id, q.after, q.limit) };
});
