// `npm start`: install what is missing, build when needed, then run the console + gateway.
import { spawn } from "node:child_process";
import { ensureBuild, ensureNodeModules, root } from "./ensure.mjs";

ensureNodeModules();
ensureBuild();
const child = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 1));
