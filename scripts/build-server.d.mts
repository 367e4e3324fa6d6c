/** Types for scripts/build-server.mjs (imported by the test harness). */
export const root: string;
export const SERVER_BUNDLE: string;
export function buildServer(): Promise<void>;
export function ensureServerBundle(): Promise<void>;
export function newestMtime(entries: readonly string[]): number;
