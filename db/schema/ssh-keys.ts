import { index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users } from "./users";

/**
 * SSH public keys users register so the SSH gateway can authenticate them by key instead of a
 * token. The gateway looks a key up by (algorithm, public_key) exactly as the client offers it,
 * so the blob is the canonical wire-format encoding, and that pair is unique: one key can never
 * open two identities.
 */
export const userSshKeys = pgTable(
  "user_ssh_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull().default(""),
    /** the key type from the wire blob: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa, ... */
    algorithm: text("algorithm").notNull(),
    /** base64 of the wire-format public key (the middle field of an authorized_keys line) */
    publicKey: text("public_key").notNull(),
    /** OpenSSH style: SHA256:<base64 of sha256(blob), no padding>, as `ssh-keygen -lf` prints */
    fingerprint: text("fingerprint").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("user_ssh_keys_key_idx").on(t.algorithm, t.publicKey), index("user_ssh_keys_user_idx").on(t.userId)],
);
