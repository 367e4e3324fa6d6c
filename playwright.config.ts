import { defineConfig } from "@playwright/test";
import os from "node:os";
import path from "node:path";
import { SERVER_NODE_FLAGS } from "./scripts/build-server.mjs";

/**
 * Real Chromium from Debian (never a downloaded browser) against a real Gatehouse process on
 * its own ports and a fresh data dir. `npm test` builds the console first.
 */
const PORT = Number(process.env.E2E_PORT ?? 3917);
export const E2E = {
  url: `http://127.0.0.1:${PORT}`,
  dataDir: path.join(os.tmpdir(), `gatehouse-e2e-${process.pid}`),
  adminEmail: "admin@e2e.test",
  adminPassword: "e2e-admin-password",
};

export default defineConfig({
  testDir: "e2e",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: E2E.url,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: {
    command: `rm -rf ${E2E.dataDir} && node scripts/build-server.mjs --if-stale && node ${SERVER_NODE_FLAGS.join(" ")} dist/server.mjs`,
    url: `${E2E.url}/login`,
    reuseExistingServer: false,
    timeout: 120_000,
    env: {
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      PORT: String(PORT),
      GATEHOUSE_DATA_DIR: E2E.dataDir,
      GATEHOUSE_ADMIN_EMAIL: E2E.adminEmail,
      GATEHOUSE_ADMIN_PASSWORD: E2E.adminPassword,
      GATEHOUSE_PG_PORT: String(PORT + 1),
      GATEHOUSE_MYSQL_PORT: String(PORT + 2),
      GATEHOUSE_SSH_PORT: String(PORT + 3),
      GATEHOUSE_K8S_PORT: String(PORT + 4),
      GATEHOUSE_HTTP_PORT: String(PORT + 5),
      GATEHOUSE_DEMO_PG_PORT: String(PORT + 6),
    },
  },
});
