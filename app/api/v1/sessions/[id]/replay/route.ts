import { createHash } from "node:crypto";
import { NextResponse } from "next/server";
import { z } from "zod";
import { getDb } from "@/db/client";
import { lastSessionEvent } from "@/db/queries/sessions";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";
import { auditRecordingPiece, readVia } from "@/lib/services/sessions/audit-read";
import { parseIdleLimit } from "@/lib/gateway/recorder/replay/idle";
import { replayIndex, replayWindow } from "@/lib/gateway/recorder/replay/service";

const Query = z.object({
  ch: z.coerce.number().int().min(0).max(1_000_000).optional(),
  /** ms since the channel started */
  from: z.coerce.number().int().min(0).optional(),
  span: z.coerce.number().int().min(1).max(86_400_000).optional(),
  /** seconds; "off" or absent: no idle-time compression */
  idle: z.string().max(16).optional(),
});

/** What an ended session's window is a function of. */
function windowTag(session: { id: string; endedAt: Date | null }, ...params: unknown[]): string {
  return `"${createHash("sha256").update(JSON.stringify([WINDOW_FORMAT, session.id, session.endedAt, ...params])).digest("base64url").slice(0, 32)}"`;
}
/** Bump when a window's content changes for the same recording. */
const WINDOW_FORMAT = 1;

/**
 * Terminal replay for asciinema-player's segmented recordings (TERMINAL.md):
 * - without `from`: the index of channel `ch` — duration, windows and markers;
 * - with `from` (and `span`): one window — the screen at its keyframe, then its events.
 * A long recording is never sent whole: the player asks for the window it needs and the next.
 */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  const session = await readableSession(caller, id);
  const q = Query.parse(Object.fromEntries(new URL(req.url).searchParams));
  const idle = parseIdleLimit(q.idle);
  const db = await getDb();
  // One row per replay opened, not per window: the index, the timeline and the windows a player
  // fetches for it are one read (audit-read.ts).
  await auditRecordingPiece(db, caller, session, "session.replay", { ch: q.ch ?? null, ...readVia(req, caller) });
  if (q.from === undefined) {
    return NextResponse.json(await replayIndex(db, session, q.ch, idle), { headers: { "cache-control": "private, no-cache" } });
  }
  // A live session's window may grow: never kept.
  if (session.status === "live") return NextResponse.json(await replayWindow(db, session, q.ch, q.from, q.span ?? 1, idle), { headers: { "cache-control": "private, no-store" } });
  // An ended session's window does not change (unless output a killed process spooled is stored
  // later: the last seq is in the tag), but whoever asks may lose the right to read it (a role
  // taken away, signed out, the session purged): a browser may keep it, never serve it without
  // asking. Asking again is cheap: after the check above, an unchanged window is a 304.
  const etag = windowTag(session, (await lastSessionEvent(db, session.id))?.seq ?? 0, q.ch, q.from, q.span, idle);
  const headers = { "cache-control": "private, no-cache", etag };
  if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  return NextResponse.json(await replayWindow(db, session, q.ch, q.from, q.span ?? 1, idle), { headers });
});
