import { withDeadline } from "@/lib/util/deadline";

/**
 * Whether an error says Gatehouse's own database cannot be reached (down, restarting, the
 * connection lost) rather than that a query was wrong. Such failures must not read as the
 * client's fault ("password authentication failed", "internal error"): the gateways and the API
 * refuse with a clear "try again shortly", and let nothing in that they could not check.
 * Drizzle wraps driver errors (`cause`), so the chain is walked.
 */
const NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
/** postgres.js's own codes for a connection it lost or could not open */
const DRIVER_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);
/** SQLSTATE 57P01–57P03: the server shuts down or cannot accept connections now */
const SERVER_CODES = new Set(["57P01", "57P02", "57P03"]);

export const STORE_UNAVAILABLE = "Gatehouse cannot reach its database; try again shortly";

export function isStoreUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (NODE_CODES.has(code) || DRIVER_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith("08"))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * `work` on Gatehouse's database, or an error isStoreUnavailable recognizes once `ms` have
 * passed: a database that accepts connections but never answers (frozen, or cut off with its
 * connections still open) would otherwise hold the caller until its own timeout, with nothing
 * said. What `work` does after that is not waited for.
 */
export function storeDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return withDeadline(work, ms, () => Object.assign(new Error(`Gatehouse's database did not answer within ${ms} ms`), { code: "CONNECT_TIMEOUT" }));
}
