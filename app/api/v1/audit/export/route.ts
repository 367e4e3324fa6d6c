import { getDb } from "@/db/client";
import { walkAudit } from "@/db/queries/audit";
import { route } from "@/lib/http/route";
import { terminalSafeJson } from "@/lib/util/terminal-safe-json";

/** JSON lines, streamed in seq order, including hashes so the export can be verified offline. */
export const GET = route("audit:read", async () => {
  const db = await getDb();
  const encoder = new TextEncoder();
  const stream = new ReadableStream({
    async start(controller) {
      for await (const row of walkAudit(db)) controller.enqueue(encoder.encode(terminalSafeJson(JSON.stringify({ ...row, at: row.at.toISOString() })) + "\n"));
      controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
});
