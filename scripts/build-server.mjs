// The server (server.ts and the gateway code it imports) as plain JavaScript: dist/server.mjs
// (server-entry.ts, which runs dist/gatehouse.mjs, the server) and dist/mask-worker.mjs (the
// worker thread it starts), so production runs on Node alone: no TypeScript loader in the process
// (measured: 50–60 MB less resident, and it starts faster). Packages stay external, loaded from
// node_modules as usual. `npm run dev` still runs server.ts through tsx.
//
// The `gatehouse` CLI too (dist/cli.mjs): bin/gatehouse.mjs runs it when it is newer than every
// source it was built from (dist/cli.inputs.json), and cli/main.ts through tsx otherwise. Built,
// a command starts in ~0.15 s instead of ~0.65 s.
//
//   node scripts/build-server.mjs             build now
//   node scripts/build-server.mjs --if-stale  build when missing or older than any source
//   import { ensureServerBundle } ...          the same, from a script
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SERVER_BUNDLE = path.join(root, "dist", "server.mjs");

/**
 * Node flags the server runs with (`npm start`, `npm run serve`, the tests and the benchmarks).
 *
 * `--initial-old-space-size=128`: V8 otherwise sizes the old generation's allocation limit from
 * the ~40 MB that survive each collection, a limit bulk relaying hits many times a second (SSH
 * output: ~10 full mark-compacts a second, marking the whole heap on V8's helper threads, which
 * then took as much CPU as the relay itself on a 2-core machine and left less for sshd and the
 * client). With the limit at least 128 MB they run ~3 times a second, set off by external memory
 * (packet buffers) instead: the gateway's CPU per MB of SSH output fell from 5.3–5.6 ms to 2.9–3.4 ms
 * and throughput rose by a quarter to a half (bench/ssh). The cost is up to ~90 MB more garbage
 * before a collection under load; 200 idle PostgreSQL connections: 263 MB after their logins (273
 * without), but 257 rather than 211 MB after a minute idle (a restarted process). V8 reads the
 * flag only when the heap is created, so it cannot be set from inside the process.
 */
export const SERVER_NODE_FLAGS = ["--initial-old-space-size=128"];

/** What the bundle is made of: everything server.ts can import, and how it is resolved. */
const SOURCES = ["server.ts", "server-entry.ts", "lib", "db", "cli", "package-lock.json", "tsconfig.json"];

/** The newest modification time among these files and directories (relative to the repo root). */
export function newestMtime(entries) {
  let newest = 0;
  const walk = (p) => {
    const st = fs.statSync(p);
    if (!st.isDirectory()) return void (newest = Math.max(newest, st.mtimeMs));
    for (const e of fs.readdirSync(p)) if (e !== "node_modules" && !e.startsWith(".")) walk(path.join(p, e));
  };
  for (const s of entries) if (fs.existsSync(path.join(root, s))) walk(path.join(root, s));
  return newest;
}

/**
 * Bundles: the entry, the server it runs, and the worker thread the server starts to mask large
 * results (mask-pool.ts). The entry first: it is renamed into place last (see buildServer).
 */
const ENTRIES = { server: "server-entry.ts", gatehouse: "server.ts", "mask-worker": "lib/gateway/protocols/postgres/mask-worker.ts", cli: "cli/main.ts" };

export async function buildServer() {
  const { build } = await import("esbuild");
  // Written into a directory of its own and renamed into place: test workers may rebuild at the
  // same moment, and a server starting meanwhile must never read half a file.
  const tmp = path.join(path.dirname(SERVER_BUNDLE), `.build-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  const result = await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, path.join(root, file)])),
    outdir: tmp,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    tsconfig: path.join(root, "tsconfig.json"),
    // For stack traces in TypeScript terms: NODE_OPTIONS=--enable-source-maps (off by default:
    // Node then keeps every loaded module's source map in memory).
    sourcemap: "linked",
    sourcesContent: false,
    metafile: true,
    logLevel: "warning",
    banner: { js: "// Built by scripts/build-server.mjs (see ENTRIES there); do not edit." },
  });
  // What the CLI was built from, repo-relative, for bin/gatehouse.mjs to tell a stale bundle.
  const cliInputs = Object.keys(result.metafile.outputs[path.relative(process.cwd(), path.join(tmp, "cli.mjs"))]?.inputs ?? {});
  if (!cliInputs.length) throw new Error("esbuild's metafile names no inputs for the CLI bundle");
  const relative = [...cliInputs.map((f) => path.relative(root, path.resolve(process.cwd(), f))), "tsconfig.json"];
  fs.writeFileSync(path.join(tmp, "cli.inputs.json"), JSON.stringify(relative));
  fs.renameSync(path.join(tmp, "cli.inputs.json"), path.join(path.dirname(SERVER_BUNDLE), "cli.inputs.json"));
  // the server last: its date is what ensureServerBundle compares
  for (const name of Object.keys(ENTRIES).reverse()) {
    for (const file of [`${name}.mjs.map`, `${name}.mjs`]) fs.renameSync(path.join(tmp, file), path.join(path.dirname(SERVER_BUNDLE), file));
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

export async function ensureServerBundle() {
  const outputs = Object.keys(ENTRIES).map((name) => path.join(path.dirname(SERVER_BUNDLE), `${name}.mjs`));
  if (outputs.every((f) => fs.existsSync(f)) && fs.statSync(SERVER_BUNDLE).mtimeMs > newestMtime(SOURCES)) return;
  console.log("$ node scripts/build-server.mjs");
  await buildServer();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await (process.argv.includes("--if-stale") ? ensureServerBundle() : buildServer());
}
