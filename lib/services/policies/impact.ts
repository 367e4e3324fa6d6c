import { createHash } from "node:crypto";
import { and, eq, notInArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { sessions } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { addPolicyPreviewResult, createPolicyPreview, policyPreviewResults, policyPreviewText } from "@/db/queries/policy-previews";
import { gatewayNodesWithLoad } from "@/db/queries/nodes";
import { getBus, Topics, type EventBus } from "@/lib/events/bus";
import { nodeIsGone } from "@/lib/services/sessions/node-liveness";
import { liveSessions } from "@/lib/gateway/core/live-sessions";
import { GatehouseError } from "@/lib/gateway/core/types";
import { PolicyEngine } from "@/lib/gateway/policy/engine";
import { loggable } from "@/lib/util/loggable";

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

/** What `text` would end among this process's live sessions; null when it does not compile. */
async function localImpact(text: string): Promise<{ items: ImpactItem[]; previewed: number } | null> {
  const held = acquire(text);
  if (!held) return null;
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
  return { items, previewed: live.length };
}

/** How long the other processes on a shared database get to answer a preview. */
const ANSWER_WITHIN_MS = 2_000;

/**
 * What saving `text` would end right now: each live session (or the shell, exec or forward in
 * it) that the new version would no longer allow (lib/gateway/core/standing.ts), decided with
 * its current inputs, nothing ended. On a shared database the other running processes preview
 * their own sessions (the text goes through `policy_previews`, the question over the bus) and
 * answer within two seconds; sessions of processes that did not answer are counted, not listed.
 */
export async function policyImpact(db: Db, caller: Caller | null, input: unknown) {
  authorize(caller, "policies:write");
  authorize(caller, "sessions:read-all");
  const { text } = impactInput.parse(input);
  const local = await localImpact(text);
  if (!local) return { ok: false as const, items: [], previewed: 0, elsewhere: 0 };
  const bus = getBus();
  const others = (await gatewayNodesWithLoad(db)).filter((n) => n.nodeId !== bus.nodeId && !nodeIsGone(n));
  const items = [...local.items];
  let previewed = local.previewed;
  const answered = [bus.nodeId];
  if (others.length) {
    const id = await createPolicyPreview(db, text);
    await bus.publish(Topics.policyPreview, { id });
    let answers: Record<string, unknown> = {};
    for (const deadline = Date.now() + ANSWER_WITHIN_MS; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      answers = await policyPreviewResults(db, id);
      if (others.every((n) => n.nodeId in answers)) break;
    }
    for (const [node, answer] of Object.entries(answers) as [string, { items: ImpactItem[]; previewed: number }][]) {
      answered.push(node);
      items.push(...answer.items);
      previewed += answer.previewed;
    }
  }
  const [{ n }] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(sessions)
    .where(and(eq(sessions.status, "live"), notInArray(sessions.nodeId, answered)));
  return { ok: true as const, items, previewed, elsewhere: Number(n) };
}

/** Answers other processes' previews with this process's live sessions (a shared database). */
export function startPolicyPreviewResponder(db: Db, bus: EventBus): () => void {
  return bus.subscribe<{ id: string }>(Topics.policyPreview, (data, msg) => {
    if (msg.origin === bus.nodeId || typeof data?.id !== "string") return;
    void (async () => {
      const text = await policyPreviewText(db, data.id);
      if (text === null) return;
      await addPolicyPreviewResult(db, data.id, bus.nodeId, (await localImpact(text)) ?? { items: [], previewed: 0 });
    })().catch((err) => console.error(`[policy] previewing ${data.id} failed:`, loggable(err)));
  });
}
