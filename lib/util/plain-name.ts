import { z } from "zod";

/**
 * Names people choose (tokens, SSH keys, masking rules, a user's display name) are shown to
 * others: admins listing tokens, approvers and auditors reading what was done with them, the CLI
 * printing them into a terminal. A bidirectional control or a zero-width character makes a name
 * read as something else ("prod-key" that is "yek-dorp" reordered, "admin" and "ad\u200bmin"), and
 * a control character drives the terminal that prints it. Such names are refused when they are
 * made; text whose content is the point (a statement, a reason) is kept and shown tagged instead
 * (reveal-invisible.ts).
 */
const NOT_IN_A_NAME = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

export const NAME_CHARACTERS_MESSAGE = "must not contain control, zero-width or text-direction characters";

export function isPlainName(text: string): boolean {
  return !NOT_IN_A_NAME.test(text);
}

/** A string schema that also refuses those characters. */
export function plainName<T extends z.ZodType<string>>(schema: T) {
  return schema.refine(isPlainName, NAME_CHARACTERS_MESSAGE);
}
