import { z } from "zod";
import { getDb } from "@/db/client";
import { liveSessions } from "@/lib/gateway/core/live-sessions";
import { loadTerminalTail } from "@/lib/gateway/recorder/load-terminal-tail";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";
import { auditRecordingPiece, readVia } from "@/lib/services/sessions/audit-read";

const Query = z.object({ ch: z.coerce.number().int().min(0).max(10_000).default(0) });

/**
 * GET ?ch=N — what a live viewer joining mid-session writes first: channel N's output since the
 * last full-screen reset (≤ 1 MiB, base64), the pty size, and the seq it ends at
 * (lib/gateway/recorder/TERMINAL.md). `serverTime` lets the viewer measure its delay.
 */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  const session = await readableSession(caller, id);
  const { ch } = Query.parse({ ch: new URL(req.url).searchParams.get("ch") ?? undefined });
  // The socket of a live view audits its opening; a tail fetched without one still goes on record.
  await auditRecordingPiece(await getDb(), caller, session, "session.watch", { ch, ...readVia(req, caller) });
  // Events recorded in this process but not yet batched into the database must be in the tail.
  await liveSessions().get(id)?.recorder.flush();
  const tail = await loadTerminalTail(await getDb(), id, ch);
  return {
    ch,
    seq: tail.seq,
    data: tail.data.toString("base64"),
    bytes: tail.data.length,
    from: tail.from,
    startSize: tail.startSize,
    resizes: tail.resizes,
    size: tail.size,
    term: tail.term,
    exit: tail.exit,
    session: { status: session.status, startedAt: session.startedAt, endedAt: session.endedAt, endReason: session.endReason },
    serverTime: Date.now(),
  };
});
