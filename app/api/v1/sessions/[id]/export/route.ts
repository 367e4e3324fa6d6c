import { z } from "zod";
import { getDb, type Db } from "@/db/client";
import { sessionEventsPage } from "@/db/queries/sessions";
import { GatehouseError } from "@/lib/gateway/core/types";
import { encodeAsciicast } from "@/lib/gateway/recorder/asciicast";
import { terminalChannels } from "@/lib/gateway/recorder/replay/build";
import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";
import { auditRecordingRead, readVia } from "@/lib/services/sessions/audit-read";
import { terminalSafeJson } from "@/lib/util/terminal-safe-json";

const Query = z.object({
  format: z.enum(["jsonl", "asciicast"]).default("jsonl"),
  ch: z.coerce.number().int().min(0).max(1_000_000).optional(),
  // asciicast: the output bytes as recorded, sequences that act on a viewer's terminal included
  raw: z.enum(["0", "1"]).default("0"),
});

const PAGE = 2000;

async function* pages(db: Db, id: string, afterSeq: number) {
  let after = afterSeq;
  for (;;) {
    const page = await sessionEventsPage(db, id, after, PAGE);
    if (page.length) yield page;
    if (page.length < PAGE) return;
    after = page[page.length - 1].seq;
  }
}

function streamOf(source: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  const it = source[Symbol.asyncIterator]();
  // Pull-based: the next page is read from the database only when the client has taken the last one.
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(enc.encode(value));
    },
    async cancel() {
      await it.return?.();
    },
  });
}

/**
 * ?format=jsonl: every event as one JSON line (query sessions: statement, classification,
 * verdict, rows, masked cells, timing).
 * ?format=asciicast[&ch=N][&raw=1]: terminal channel N (default: the first) as asciicast v2, its
 * output inert for a viewer's terminal unless raw=1.
 * Both streamed page by page.
 */
export const GET = route<{ id: string }>("sessions:read-own", async (req, caller, { id }) => {
  const session = await readableSession(caller, id);
  const q = Query.parse(Object.fromEntries(new URL(req.url).searchParams));
  const db = await getDb();
  if (q.format === "asciicast") {
    // Checked before the response starts: once streaming, an error can no longer be a 404.
    const channels = await terminalChannels(db, id);
    const channel = q.ch === undefined ? channels[0] : channels.find((c) => c.ch === q.ch);
    if (!channel) throw new GatehouseError(channels.length ? "NOT_FOUND" : "INVALID", channels.length ? `this session has no terminal channel ${q.ch}` : "this session has no terminal recording (asciicast is for terminal sessions; jsonl is for all)");
    const raw = q.raw === "1";
    await auditRecordingRead(db, caller, session, "session.export", { format: q.format, ch: channel.ch, ...(raw ? { raw } : {}), ...readVia(req, caller) });
    const lines = encodeAsciicast(pages(db, id, channel.seq - 1), session, { ch: channel.ch, raw });
    return new Response(streamOf(lines), {
      headers: { "content-type": "application/x-asciicast", "content-disposition": `attachment; filename="session-${id}-ch${channel.ch}.cast"` },
    });
  }
  await auditRecordingRead(db, caller, session, "session.export", { format: q.format, ...readVia(req, caller) });
  async function* jsonl() {
    yield terminalSafeJson(JSON.stringify({ kind: "session", session })) + "\n";
    for await (const page of pages(db, id, 0)) yield page.map((e) => terminalSafeJson(JSON.stringify(e)) + "\n").join("");
  }
  return new Response(streamOf(jsonl()), { headers: { "content-type": "application/x-ndjson", "content-disposition": `attachment; filename="session-${id}.jsonl"` } });
});
