import { and, eq, inArray } from "drizzle-orm";
import type { Tx } from "@/db/client";
import { groups, memberships } from "@/db/schema";

/** Makes the user's `source` memberships exactly `names`, creating missing groups. */
export async function setMemberships(tx: Tx, userId: string, names: string[], source: "console" | "oidc" = "console") {
  const unique = [...new Set(names)];
  if (unique.length) await tx.insert(groups).values(unique.map((name) => ({ name }))).onConflictDoNothing({ target: groups.name });
  const rows = unique.length ? await tx.select({ id: groups.id }).from(groups).where(inArray(groups.name, unique)) : [];
  await tx.delete(memberships).where(and(eq(memberships.userId, userId), eq(memberships.source, source)));
  if (rows.length) await tx.insert(memberships).values(rows.map((g) => ({ userId, groupId: g.id, source }))).onConflictDoNothing();
}
