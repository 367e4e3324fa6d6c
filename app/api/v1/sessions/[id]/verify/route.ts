import { getDb } from "@/db/client";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";
import { auditRecordingRead, readVia } from "@/lib/services/sessions/audit-read";
import { verifySession } from "@/lib/services/sessions/seal";

/**
 * Whether the session's recording is what was sealed when it ended: `intact`, `tampered` (with
 * where it first differs) or `unsealed` (live, or ended before recordings were sealed). Read like
 * the recording itself, and audited (with its outcome) before it is answered.
 */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  const session = await readableSession(caller, id);
  const db = await getDb();
  const verification = await verifySession(db, session);
  await auditRecordingRead(db, caller, session, "session.verify", { state: verification.state, ...readVia(req, caller) });
  return { session: { id: session.id, status: session.status }, verification };
});
