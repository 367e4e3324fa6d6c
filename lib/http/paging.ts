import { z } from "zod";

/**
 * Paging parameters of the API, checked like any other input: a page size from 1 to the
 * endpoint's maximum and a cursor that is a sequence number. Anything else is a 400 that says
 * which parameter and why, never a value clamped behind the caller's back, and never handed to
 * SQL, where `LIMIT -1` or `1.5` became a 500 (and a log line for every probe).
 */
export const limitParam = (fallback: number, max: number) =>
  z.coerce.number().int(`must be a whole number from 1 to ${max}`).min(1, `must be from 1 to ${max}`).max(max, `must be from 1 to ${max}`).default(fallback);

/** `?after=SEQ`: the last sequence number the caller has; 0 (the default) is from the start. */
export const afterSeqParam = z.coerce.number().int("must be a sequence number (a whole number ≥ 0)").min(0, "must be a sequence number (a whole number ≥ 0)").max(Number.MAX_SAFE_INTEGER).default(0);

/** The query string of `req`, parsed with `schema` (a ZodError is mapped to 400 by the route wrapper). */
export function parseQuery<T extends z.ZodType>(req: Request, schema: T): z.infer<T> {
  return schema.parse(Object.fromEntries(new URL(req.url).searchParams));
}
