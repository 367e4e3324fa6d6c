import { eq, lt, sql } from "drizzle-orm";
import type { Db } from "../client";
import { policyPreviews } from "../schema";

const KEEP_MS = 10 * 60_000;

/** Stores a text to preview in every process (and drops previews older than ten minutes). */
export async function createPolicyPreview(db: Db, text: string): Promise<string> {
  await db.delete(policyPreviews).where(lt(policyPreviews.createdAt, new Date(Date.now() - KEEP_MS)));
  const [row] = await db.insert(policyPreviews).values({ text }).returning({ id: policyPreviews.id });
  return row.id;
}

export async function policyPreviewText(db: Db, id: string): Promise<string | null> {
  const [row] = await db.select({ text: policyPreviews.text }).from(policyPreviews).where(eq(policyPreviews.id, id));
  return row?.text ?? null;
}

/** Adds one process's answer; answers of different processes never overwrite each other. */
export async function addPolicyPreviewResult(db: Db, id: string, nodeId: string, result: unknown): Promise<void> {
  await db
    .update(policyPreviews)
    .set({ results: sql`${policyPreviews.results} || jsonb_build_object(${nodeId}::text, ${JSON.stringify(result)}::jsonb)` })
    .where(eq(policyPreviews.id, id));
}

export async function policyPreviewResults(db: Db, id: string): Promise<Record<string, unknown>> {
  const [row] = await db.select({ results: policyPreviews.results }).from(policyPreviews).where(eq(policyPreviews.id, id));
  return row?.results ?? {};
}
