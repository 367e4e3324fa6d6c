/** Types for scripts/build-server.mjs (imported by the test harness). */
export const root: string;
export const SERVER_BUNDLE: string;
/** node flags the server runs with (see build-server.mjs) */
export const SERVER_NODE_FLAGS: readonly string[];
export function buildServer(): Promise<void>;
export function ensureServerBundle(): Promise<void>;
export function newestMtime(entries: readonly string[]): number;
