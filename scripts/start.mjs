// `npm start`: install what is missing, build when needed, then run the console + gateway.
import { spawn } from "node:child_process";
import { SERVER_BUNDLE, SERVER_NODE_FLAGS } from "./build-server.mjs";
import { ensureBuild, ensureNodeModules, root } from "./ensure.mjs";

ensureNodeModules();
await ensureBuild();
const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, SERVER_BUNDLE], {
  cwd: root,
  stdio: "inherit",
  // MALLOC_ARENA_MAX: glibc keeps up to 8 allocator arenas per core, one per thread that ever
  // allocated, each holding on to freed memory; two are plenty for Node (measured: 30–60 MB less
  // resident with 200 idle connections). tests/support/gatehouse.ts starts the server the same way.
  env: { MALLOC_ARENA_MAX: "2", ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 1));
