import v8 from "node:v8";

/**
 * PGlite (the embedded database, and the demo upstream) is PostgreSQL compiled to WebAssembly.
 * V8 compiles each wasm function first with its baseline compiler (Liftoff) and again with its
 * optimizing compiler (TurboFan) once it runs hot, in background threads; what those
 * compilations allocate stays with the C allocator afterwards, fragmented. In bench/postgres that
 * was ~75 MB of a ~345 MB process with 200 idle connections (the target is 300). With
 * Liftoff only, the CPU per statement measured the same within noise (select-only, TPC-B,
 * masked fetch, on PGlite: the recorder batches its writes, so little time is spent in PGlite).
 *
 * Applies to modules compiled from here on: call before the first PGlite opens. Cedar's module,
 * compiled when imported, keeps tiering up. Processes on DATABASE_URL do not call this.
 */
export function baselineWasmOnly() {
  v8.setFlagsFromString("--liftoff-only");
}
