#!/usr/bin/env node
// Launcher for the `gatehouse` CLI: loads cli/main.ts through tsx's scoped loader, so no build
// step is needed and nothing else in the process is affected. Paths are resolved from this
// file's real location (node follows the node_modules/.bin symlink for the main module), and
// tsx is pointed at our own tsconfig so the caller's working directory does not matter.
import { fileURLToPath } from "node:url";
import { tsImport } from "tsx/esm/api";

const cli = await tsImport("../cli/main.ts", {
  parentURL: import.meta.url,
  tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)),
});
await cli.run();
