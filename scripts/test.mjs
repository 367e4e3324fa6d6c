// `npm test`: install what the tests need (npm packages; Debian packages when root), build the
// console, then run unit + integration tests (vitest) and browser tests (Playwright, Debian's Chromium).
import { spawnSync } from "node:child_process";
import { ensureBuild, ensureNodeModules, ensureSystemPackages, root } from "./ensure.mjs";

ensureSystemPackages();
ensureNodeModules();
await ensureBuild();

const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const steps = [
  ["typecheck", ["npx", "tsc", "--noEmit", "-p", "tsconfig.json"]],
  ["vitest", ["npx", "vitest", "run"]],
  ["playwright", ["npx", "playwright", "test"]],
];
const only = process.argv[2];
let failed = 0;
for (const [name, [cmd, ...args]] of steps) {
  if (only && only !== name) continue;
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env });
  if (r.status !== 0) {
    console.error(`${name} failed (exit ${r.status})`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
