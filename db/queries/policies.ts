import { desc, eq } from "drizzle-orm";
import type { Db } from "../client";
import { policyVersions, users } from "../schema";

const columns = {
  version: policyVersions.version,
  text: policyVersions.text,
  comment: policyVersions.comment,
  createdAt: policyVersions.createdAt,
  authorEmail: users.email,
};

export async function currentPolicy(db: Db) {
  const [row] = await db.select(columns).from(policyVersions).leftJoin(users, eq(users.id, policyVersions.authorId)).orderBy(desc(policyVersions.version)).limit(1);
  return row ?? null;
}

/** The version in force (the highest), without its text: cheap enough to poll. */
export async function currentPolicyVersion(db: Db): Promise<number | null> {
  const [row] = await db.select({ version: policyVersions.version }).from(policyVersions).orderBy(desc(policyVersions.version)).limit(1);
  return row?.version ?? null;
}

export function listPolicyVersions(db: Db, limit = 100) {
  return db
    .select({ version: policyVersions.version, comment: policyVersions.comment, createdAt: policyVersions.createdAt, authorEmail: users.email })
    .from(policyVersions)
    .leftJoin(users, eq(users.id, policyVersions.authorId))
    .orderBy(desc(policyVersions.version))
    .limit(limit);
}

export async function getPolicyVersion(db: Db, version: number) {
  const [row] = await db.select(columns).from(policyVersions).leftJoin(users, eq(users.id, policyVersions.authorId)).where(eq(policyVersions.version, version));
  return row ?? null;
}
