import { createHash } from "node:crypto";
import { and, eq, ne, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { sessions } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { getBus } from "@/lib/events/bus";
import { liveSessions } from "@/lib/gateway/core/live-sessions";
import { GatehouseError } from "@/lib/gateway/core/types";
import { PolicyEngine } from "@/lib/gateway/policy/engine";

export const impactInput = z.object({ text: z.string().max(256 * 1024) });

export interface ImpactItem {
  sessionId: string;
  user: string;
  chain: string[];
  connection: string;
  protocol: string;
  /** what would end: "session", "exec: sleep 60", "forward: local db:5432" (as recorded: masked) */
  what: string;
  reason: string;
}

/**
 * Engines of texts previewed lately, newest last. The editor asks again every few seconds while
 * the same text is on screen; and Cedar keeps a slot for every engine ever made (disposing only
 * empties it), so each text gets one. An engine evicted while a preview still uses it is
 * disposed when that preview is done.
 */
interface Held {
  engine: PolicyEngine;
  users: number;
  evicted: boolean;
}
const engines = new Map<string, Held>();
const KEEP_ENGINES = 4;

function release(held: Held) {
  held.users--;
  if (held.evicted && held.users === 0) held.engine.dispose();
}

function acquire(text: string): Held | null {
  const key = createHash("sha256").update(text).digest("hex");
  let held = engines.get(key);
  if (held) engines.delete(key);
  else {
    try {
      held = { engine: new PolicyEngine(text, `preview-${key.slice(0, 12)}`), users: 0, evicted: false };
    } catch (err) {
      if (err instanceof GatehouseError && err.code === "INVALID") return null;
      throw err;
    }
    for (const [k, old] of engines) {
      if (engines.size < KEEP_ENGINES) break;
      engines.delete(k);
      old.evicted = true;
      if (old.users === 0) old.engine.dispose();
    }
  }
  engines.set(key, held);
  held.users++;
  return held;
}

/**
 * What saving `text` would end right now: each live session (or the shell, exec or forward in
 * it) that the new version would no longer allow (lib/gateway/core/standing.ts), decided with
 * its current inputs, nothing ended. Covers this process's sessions; sessions served by other
 * processes on a shared database are counted, not previewed (their standing decisions live in
 * those processes).
 */
export async function policyImpact(db: Db, caller: Caller | null, input: unknown) {
  authorize(caller, "policies:write");
  authorize(caller, "sessions:read-all");
  const { text } = impactInput.parse(input);
  const held = acquire(text);
  if (!held) return { ok: false as const, items: [], previewed: 0, elsewhere: 0 };
  const live = liveSessions().all();
  const items: ImpactItem[] = [];
  try {
    for (const s of live) {
      const about = { sessionId: s.id, user: s.principal.email, chain: s.principal.chain.map((a) => a.name), connection: s.connection.name, protocol: s.client.protocol };
      try {
        for (const { action, shown, reason } of await s.previewStanding((req) => held.engine.decide(req))) {
          items.push({ ...about, what: action === "connect" ? "session" : `${action}: ${shown}`, reason });
        }
      } catch (err) {
        items.push({ ...about, what: "session", reason: `could not be previewed (${(err as Error).message})` });
      }
    }
  } finally {
    release(held);
  }
  const [{ n }] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(sessions)
    .where(and(eq(sessions.status, "live"), ne(sessions.nodeId, getBus().nodeId)));
  return { ok: true as const, items, previewed: live.length, elsewhere: Number(n) };
}
