import { z } from "zod";
import { ROLES } from "@/lib/auth/authorize";
import { plainName } from "@/lib/util/plain-name";

export const email = z.string().trim().toLowerCase().email().max(254);
export const password = z.string().min(10, "at least 10 characters").max(256);
export const groupName = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, "letters, digits, '_', '.', ':' and '-'");

export const userInput = z.object({
  email,
  name: plainName(z.string().max(200)).default(""),
  role: z.enum(ROLES as [string, ...string[]]).default("member"),
  password: password.optional(),
  groups: z.array(groupName).max(64).default([]),
});

export const userPatch = z.object({
  name: plainName(z.string().max(200)).optional(),
  role: z.enum(ROLES as [string, ...string[]]).optional(),
  password: password.optional(),
  groups: z.array(groupName).max(64).optional(),
  disabled: z.boolean().optional(),
});
