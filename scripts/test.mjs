// `npm test`: install what the tests need (npm packages; Debian packages when root), build the
// console, type-check, then run unit + integration tests (vitest) and browser tests (Playwright,
// Debian's Chromium) side by side. `npm test -- <step>` runs one step alone.
import { spawn } from "node:child_process";
import { createWriteStream, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureBuild, ensureNodeModules, ensureSystemPackages, root } from "./ensure.mjs";

const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const steps = {
  typecheck: ["npx", "tsc", "--noEmit", "-p", "tsconfig.json"],
  vitest: ["npx", "vitest", "run"],
  playwright: ["npx", "playwright", "test"],
};
const only = process.argv[2];
if (only && !steps[only]) {
  console.error(`unknown step "${only}"; steps: ${Object.keys(steps).join(", ")}`);
  process.exit(2);
}

ensureSystemPackages();
ensureNodeModules();
await ensureBuild({ typecheckFollows: !only || only === "typecheck" });

/**
 * Runs one step. With a log file its output goes there rather than to the terminal, so two steps
 * running at once don't interleave; the caller prints the file when the step ends.
 */
function run(name, logFile) {
  const [cmd, ...args] = steps[name];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: logFile ? ["ignore", "pipe", "pipe"] : "inherit" });
    const chunks = [];
    if (logFile) {
      const file = createWriteStream(logFile);
      for (const stream of [child.stdout, child.stderr]) {
        stream.on("data", (chunk) => {
          chunks.push(chunk);
          file.write(chunk);
        });
      }
      child.on("close", () => file.end());
    }
    child.on("close", (code, signal) => {
      resolve({ name, ok: code === 0, code: code ?? signal, output: Buffer.concat(chunks), seconds: Math.round((Date.now() - started) / 1000) });
    });
  });
}

function report({ name, ok, code, seconds }) {
  console.log(`\n=== ${name}: ${ok ? "passed" : `FAILED (exit ${code})`} in ${seconds} s ===`);
  return ok;
}

if (only) {
  console.log(`\n=== ${only} ===`);
  process.exit(report(await run(only)) ? 0 : 1);
}

console.log("\n=== typecheck ===");
let ok = report(await run("typecheck"));

// The two suites overlap: vitest's integration files mostly wait on the processes they start, and
// so do browser tests, so together they finish minutes sooner than one after the other. They don't
// collide: Playwright's Gatehouse listens on fixed ports 3917-3923, below the ephemeral range
// vitest's servers draw from, with its own data dir. Vitest reports live; Playwright's report
// is printed when it ends, and can be followed meanwhile in a log file (not under test-results/,
// which Playwright empties as it starts), removed once printed.
const playwrightLog = path.join(os.tmpdir(), `gatehouse-playwright-${process.pid}.log`);
console.log(`\n=== vitest, with playwright alongside (its report follows; live in ${playwrightLog}) ===`);
const playwright = run("playwright", playwrightLog);
ok = report(await run("vitest")) && ok;
const browser = await playwright;
console.log(`\n=== playwright ===`);
process.stdout.write(browser.output);
rmSync(playwrightLog, { force: true });
ok = report(browser) && ok;
process.exit(ok ? 0 : 1);
