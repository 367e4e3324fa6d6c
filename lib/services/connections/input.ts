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
  }, "an URL such as postgres://db.internal:5432/app or ssh://host:22");

export const connectionInput = z.object({
  name: connectionName,
  type: z.enum(CONNECTION_TYPES),
  upstream,
  username: z.string().max(256).default(""),
  /** password, private key (PEM) or bearer token; write-only */
  secret: z.string().max(65536).optional(),
  tags: z.array(z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/)).max(32).default([]),
  options: z.record(z.string(), z.unknown()).default({}),
  description: z.string().max(2000).default(""),
});

export const connectionPatch = connectionInput.partial().extend({
  /** empty string clears the stored secret; absent keeps it */
  secret: z.string().max(65536).optional(),
});
