import { defineConfig } from "vitest/config";
import os from "node:os";
import path from "node:path";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "e2e/**", ".next/**", "data/**"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two files at a time even on 2 cores (vitest's default there is one): the integration suites
    // mostly wait on the processes they start (Gatehouse, PostgreSQL, sshd, clients), and one at
    // a time the run no longer fits its 20-minute budget.
    maxWorkers: 2,
    // In-process recorders spool bulk output here rather than into ./data (lib/gateway/recorder/spool.ts).
    env: { GATEHOUSE_SPOOL_DIR: path.join(os.tmpdir(), "gatehouse-test-spool") },
  },
});
