import { NextResponse } from "next/server";
import { z } from "zod";
import { getDb } from "@/db/client";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";
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
  if (q.from === undefined) {
    return NextResponse.json(await replayIndex(db, session, q.ch, idle), { headers: { "cache-control": "private, no-cache" } });
  }
  const window = await replayWindow(db, session, q.ch, q.from, q.span ?? 1, idle);
  // A window of an ended session never changes; a live one may grow.
  return NextResponse.json(window, { headers: { "cache-control": session.status === "live" ? "private, no-store" : "private, max-age=600" } });
});
