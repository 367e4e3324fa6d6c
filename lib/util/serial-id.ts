import { z } from "zod";

/**
 * Ids of serial/integer columns (approval requests, policy versions) end at PostgreSQL's int4
 * maximum. A bigger number reaching a query is a database error, i.e. an internal error for the
 * client: it must be turned away at the edge as "no such thing" or invalid input instead.
 */
export const MAX_SERIAL_ID = 2_147_483_647;

/** For JSON inputs (MCP tool arguments): a whole number in int4 range. */
export const serialId = z.number().int().min(1).max(MAX_SERIAL_ID);

/** A path segment as a serial id, or null for anything else (callers answer "not found"). */
export function parseSerialId(raw: unknown): number | null {
  const s = String(raw ?? "");
  if (!/^[0-9]{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= MAX_SERIAL_ID ? n : null;
}
