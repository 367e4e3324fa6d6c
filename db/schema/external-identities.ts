import { pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users } from "./users";

/**
 * Which external identity (IdP issuer + its subject: OIDC `sub`, SAML NameID) a Gatehouse user is.
 * Once linked, only that subject maps to the account; an email alone never moves it to another
 * subject. One subject per user per issuer.
 */
export const externalIdentities = pgTable(
  "external_identities",
  {
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    /** `iat` of the newest token whose groups were synced: an older token cannot sync them back */
    groupsSyncedAt: timestamp("groups_synced_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.issuer, t.subject] }), uniqueIndex("external_identities_user_issuer_idx").on(t.userId, t.issuer)],
);
