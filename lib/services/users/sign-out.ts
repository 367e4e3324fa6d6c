import { and, eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { users } from "@/db/schema";
import { Topics } from "@/lib/events/bus";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

/**
 * Console sign-out. The session is a signed cookie that nothing on the server remembers, so
 * clearing it in the browser leaves a copy taken earlier (a shared machine, a proxy log, an XSS)
 * good for the rest of its 12 hours. Bumping the session version makes every cookie issued
 * before it worthless, as a password change does: signing out signs this user out everywhere,
 * and closes their console WebSockets (Topics.userChanged).
 *
 * Only a cookie that is still current bumps it: replaying an already dead cookie changes nothing.
 */
export async function endConsoleSessions(db: Db, claims: { uid?: unknown; sv?: unknown } | null | undefined) {
  if (typeof claims?.uid !== "string" || typeof claims.sv !== "number") return { ended: false };
  const { uid, sv } = claims;
  return mutate(db, async (tx, emit) => {
    const [row] = await tx
      .update(users)
      .set({ sessionVersion: sql`${users.sessionVersion} + 1` })
      .where(and(eq(users.id, uid), eq(users.sessionVersion, sv)))
      .returning({ id: users.id, email: users.email });
    if (!row) return { ended: false };
    await appendAudit(tx, { userId: row.id, email: row.email }, { action: "auth.logout", subject: `user:${row.email}`, detail: { via: "console" } });
    emit(Topics.userChanged, { userId: row.id });
    return { ended: true };
  });
}
