import { asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../client";
import { groups, memberships, users } from "../schema";

export async function listUsers(db: Db) {
  const rows = await db
    .select({ id: users.id, email: users.email, name: users.name, role: users.role, disabled: users.disabled, source: users.source, createdAt: users.createdAt })
    .from(users)
    .orderBy(asc(users.email));
  const groupRows = rows.length
    ? await db.select({ userId: memberships.userId, name: groups.name }).from(memberships).innerJoin(groups, eq(groups.id, memberships.groupId)).where(inArray(memberships.userId, rows.map((r) => r.id)))
    : [];
  return rows.map((u) => ({ ...u, groups: groupRows.filter((g) => g.userId === u.id).map((g) => g.name).sort() }));
}

export async function getUserForSession(db: Db, id: string) {
  const [row] = await db
    .select({ id: users.id, email: users.email, name: users.name, role: users.role, disabled: users.disabled, sessionVersion: users.sessionVersion })
    .from(users)
    .where(eq(users.id, id));
  return row ?? null;
}

export async function getUserByEmail(db: Db, email: string) {
  const [row] = await db.select({ id: users.id, email: users.email, role: users.role, disabled: users.disabled }).from(users).where(eq(users.email, email.toLowerCase()));
  return row ?? null;
}

export async function countUsers(db: Db) {
  const rows = await db.select({ id: users.id }).from(users).limit(1);
  return rows.length;
}

export function listGroups(db: Db) {
  return db.select({ id: groups.id, name: groups.name, description: groups.description }).from(groups).orderBy(asc(groups.name));
}
