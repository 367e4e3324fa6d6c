import { z } from "zod";
import { CONNECTION_TYPES } from "@/db/schema";

export const connectionName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-_]*[a-z0-9])?$/, "lowercase letters, digits, '-' and '_' (it is used as a database name and SSH user)");

const upstream = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      return Boolean(new URL(s).hostname);
    } catch {
      return false;
    }
  }, "an URL such as postgres://db.internal:5432/app or ssh://host:22")
  // Every signed-in user (agents too) may list connections with their upstream, and the audit
  // log keeps it: a password there would be handed to all of them. The gateway never reads one.
  .refine((s) => !URL.canParse(s) || !new URL(s).password, "no password in the upstream URL: give it as the connection's secret (write-only)");

const fields = {
  name: connectionName,
  type: z.enum(CONNECTION_TYPES),
  upstream,
  username: z.string().max(256),
  /** password, private key (PEM) or bearer token; write-only */
  secret: z.string().max(65536).optional(),
  tags: z.array(z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/)).max(32),
  options: z.record(z.string(), z.unknown()),
  description: z.string().max(2000),
};

export const connectionInput = z.object({
  ...fields,
  username: fields.username.default(""),
  tags: fields.tags.default([]),
  options: fields.options.default({}),
  description: fields.description.default(""),
});

/**
 * What a PATCH may change: only the fields it names. Built from the fields without their
 * defaults: zod applies a default inside `.partial()`, so a patch of the tags alone would have
 * reset the username, options and description.
 */
export const connectionPatch = z.object(fields).partial().extend({
  /** empty string clears the stored secret; absent keeps it */
  secret: z.string().max(65536).optional(),
});

/**
 * The upstream as it may be shown and audited: without a password in its userinfo. Input refuses
 * one; this covers rows stored before it did (the gateway never used it: the secret is the credential).
 */
export function upstreamWithoutPassword(upstream: string): string {
  try {
    const u = new URL(upstream);
    if (!u.password) return upstream;
    u.password = "";
    return u.href;
  } catch {
    return upstream.replace(/\/\/[^/@]*@/, "//");
  }
}
