import { getDb } from "@/db/client";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";
import { terminalTimeline } from "@/lib/gateway/recorder/replay/service";

/** A terminal session's channels and its non-I/O events (commands, requests, verdicts, holds, sftp, forwards). */
export const GET = route<{ id: string }>("sessions:read-own", async (_req, caller, { id }) => {
  await readableSession(caller, id);
  return terminalTimeline(await getDb(), id);
});
