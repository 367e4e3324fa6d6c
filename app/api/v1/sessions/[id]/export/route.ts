import { getDb } from "@/db/client";
import { sessionEventsPage } from "@/db/queries/sessions";
import { GatehouseError } from "@/lib/gateway/core/types";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";

/**
 * ?format=jsonl: every event as one JSON line (query sessions: statement, classification,
 * verdict, rows, masked cells, timing). Streamed page by page.
 */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  const session = await readableSession(caller, id);
  const format = new URL(req.url).searchParams.get("format") ?? "jsonl";
  if (format !== "jsonl") throw new GatehouseError("INVALID", `format ${format} is not supported for this session (jsonl is)`);
  const db = await getDb();
  const enc = new TextEncoder();
  const stream = new ReadableStream({
    async start(controller) {
      controller.enqueue(enc.encode(JSON.stringify({ kind: "session", session }) + "\n"));
      let after = 0;
      for (;;) {
        const page = await sessionEventsPage(db, id, after, 2000);
        for (const e of page) controller.enqueue(enc.encode(JSON.stringify(e) + "\n"));
        if (page.length < 2000) break;
        after = page[page.length - 1].seq;
      }
      controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "application/x-ndjson", "content-disposition": `attachment; filename="session-${id}.jsonl"` } });
});
