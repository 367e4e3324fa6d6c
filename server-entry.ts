/**
 * dist/server.mjs, what `npm start` runs: chooses V8's WebAssembly compilers before any module
 * is compiled (lib/config/wasm-tiering.ts), then runs the server (server.ts, bundled separately
 * as dist/gatehouse.mjs, because the packages a bundle imports are loaded before its own code).
 */
import { baselineWasmOnly } from "@/lib/config/wasm-tiering";

if (!process.env.DATABASE_URL) baselineWasmOnly();
await import(new URL("./gatehouse.mjs", import.meta.url).href);
