#!/usr/bin/env node
// Launcher for the `gatehouse` CLI. Paths are resolved from this file's real location (node
// follows the node_modules/.bin symlink for the main module), so the caller's working directory
// does not matter.
//
// It runs dist/cli.mjs, plain JavaScript built with the server (scripts/build-server.mjs), when
// that bundle is newer than every source it was built from (dist/cli.inputs.json): a command
// then starts in ~0.15 s. Otherwise (no build yet, or a source edited since) it loads cli/main.ts
// through tsx's scoped loader (~0.65 s), pointed at our own tsconfig, so no build step is ever
// needed and nothing else in the process is affected.
import fs from "node:fs";
import { fileURLToPath } from "node:url";

const BUNDLE = new URL("../dist/cli.mjs", import.meta.url);

/** The bundle, when it is at least as new as every file it was built from. */
function builtCli() {
  try {
    const built = fs.statSync(BUNDLE).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(new URL("../dist/cli.inputs.json", import.meta.url), "utf8"));
    if (!Array.isArray(inputs) || !inputs.length) return null;
    for (const f of inputs) if (fs.statSync(new URL(`../${f}`, import.meta.url)).mtimeMs > built) return null;
    return BUNDLE.href;
  } catch {
    return null; // not built, or a source it names is gone: the sources are what counts
  }
}

const bundle = builtCli();
const cli = bundle
  ? await import(bundle)
  : await (await import("tsx/esm/api")).tsImport("../cli/main.ts", {
      parentURL: import.meta.url,
      tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)),
    });
await cli.run();
