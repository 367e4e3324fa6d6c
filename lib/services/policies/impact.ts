import { and, eq, ne, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { sessions } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { getBus } from "@/lib/events/bus";
import { liveSessions } from "@/lib/gateway/core/live-sessions";
import { PolicyEngine } from "@/lib/gateway/policy/engine";
import { compilePolicySet } from "@/lib/gateway/policy";

export const impactInput = z.object({ text: z.string().max(256 * 1024) });

export interface ImpactItem {
  sessionId: string;
  user: string;
  chain: string[];
  connection: string;
  protocol: string;
  /** what would end: "session", "exec: sleep 60", "forward: local db:5432" */
  what: string;
  reason: string;
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
  if (!compilePolicySet(text).ok) return { ok: false as const, items: [], previewed: 0, elsewhere: 0 };
  const engine = new PolicyEngine(text, "preview");
  try {
    const live = liveSessions().all();
    const items: ImpactItem[] = [];
    for (const s of live) {
      for (const { request, reason } of await s.previewStanding((req) => engine.decide(req))) {
        items.push({
          sessionId: s.id,
          user: s.principal.email,
          chain: s.principal.chain.map((a) => a.name),
          connection: s.connection.name,
          protocol: s.client.protocol,
          what: request.action === "connect" ? "session" : `${request.action}: ${request.text}`,
          reason,
        });
      }
    }
    const [{ n }] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(sessions)
      .where(and(eq(sessions.status, "live"), ne(sessions.nodeId, getBus().nodeId)));
    return { ok: true as const, items, previewed: live.length, elsewhere: Number(n) };
  } finally {
    engine.dispose();
  }
}
