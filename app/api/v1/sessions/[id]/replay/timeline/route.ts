import { getDb } from "@/db/client";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";
import { auditRecordingPiece, readVia } from "@/lib/services/sessions/audit-read";
import { terminalTimeline } from "@/lib/gateway/recorder/replay/service";

/** A terminal session's channels and its non-I/O events (commands, requests, verdicts, holds, sftp, forwards). */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  const session = await readableSession(caller, id);
  const db = await getDb();
  // The commands and requests typed are the recording too: part of the replay's one audited read.
  await auditRecordingPiece(db, caller, session, "session.replay", { timeline: true, ...readVia(req, caller) });
  return terminalTimeline(db, id);
});
