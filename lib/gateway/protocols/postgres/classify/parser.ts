import { loadModule, parseSync } from "libpg-query";

/**
 * The one libpg-query instance. Loading the WASM is async and happens once per process;
 * after that every parse is synchronous (~10–40 µs for typical statements), so classification
 * can run inline on the data path without yielding to the event loop.
 */

let ready = false;
let loading: Promise<void> | null = null;

/** Loads the parser once; later calls return the same promise. */
export function initClassifier(): Promise<void> {
  loading ??= loadModule().then(() => {
    ready = true;
  });
  return loading;
}

export function isClassifierReady(): boolean {
  return ready;
}

export type ParseTree = ReturnType<typeof parseSync>;

/** Throws SqlError / Error / RangeError on bad input; callers turn that into "unknown". */
export function parseSql(text: string, caller: string): ParseTree {
  if (!ready) throw new Error(`${caller} called before initClassifier() finished`);
  return parseSync(text);
}
