import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureServerBundle, SERVER_BUNDLE, SERVER_NODE_FLAGS } from "../../scripts/build-server.mjs";
import { freePort } from "./ports";

/**
 * Starts a real Gatehouse process (dist/server.mjs and the Next production build) on free ports with its own data
 * dir, exactly as `npm start` would, and gives the test its URL and a way to stop it.
 */
export interface GatehouseProcess {
  url: string;
  port: number;
  ports: { postgres: number; mysql: number; ssh: number; kubernetes: number; http: number; demo: number };
  dataDir: string;
  adminEmail: string;
  adminPassword: string;
  proc: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export const ROOT = path.resolve(import.meta.dirname, "../..");

type Ports = GatehouseProcess["ports"];

/** The server runs as `npm start` runs it: dist/server.mjs, rebuilt first when sources changed. */
let bundled: Promise<void> | undefined;

/** An attempt whose child exited because another process took one of its ports meanwhile. */
class PortTaken extends Error {}

/**
 * `freePort()` only says a port was free a moment ago: a suite running in parallel can bind it
 * before the child does. Such a start is retried on fresh ports; any other failure is not.
 */
export async function startGatehouse(opts: { dataDir?: string; env?: Record<string, string>; demo?: boolean } = {}): Promise<GatehouseProcess> {
  await (bundled ??= ensureServerBundle());
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "gh-test-"));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const ports: Ports = { postgres: await freePort(), mysql: await freePort(), ssh: await freePort(), kubernetes: await freePort(), http: await freePort(), demo: await freePort() };
    try {
      return await launch(dataDir, port, ports, opts);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 5) throw err;
    }
  }
}

async function launch(dataDir: string, port: number, ports: Ports, opts: { env?: Record<string, string>; demo?: boolean }): Promise<GatehouseProcess> {
  const adminEmail = "admin@example.test";
  const adminPassword = "correct-horse-battery";
  const env: NodeJS.ProcessEnv = {
    MALLOC_ARENA_MAX: "2", // as scripts/start.mjs sets it
    ...process.env,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    PORT: String(port),
    GATEHOUSE_BIND: "127.0.0.1",
    GATEHOUSE_DATA_DIR: dataDir,
    // the recording spool lives in the server's own data dir, not the test runner's
    GATEHOUSE_SPOOL_DIR: path.join(dataDir, "spool"),
    GATEHOUSE_PG_PORT: String(ports.postgres),
    GATEHOUSE_MYSQL_PORT: String(ports.mysql),
    GATEHOUSE_SSH_PORT: String(ports.ssh),
    GATEHOUSE_K8S_PORT: String(ports.kubernetes),
    GATEHOUSE_HTTP_PORT: String(ports.http),
    GATEHOUSE_DEMO_PG_PORT: String(ports.demo),
    GATEHOUSE_DEMO: opts.demo === false ? "0" : "1",
    GATEHOUSE_ADMIN_EMAIL: adminEmail,
    GATEHOUSE_ADMIN_PASSWORD: adminPassword,
    ...opts.env,
  };
  // GH_NODE_ARGS: extra node flags for the server only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  // to profile it under a test or benchmark (NODE_OPTIONS refuses --cpu-prof).
  const nodeArgs = (process.env.GH_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const proc = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...nodeArgs, SERVER_BUNDLE], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`gatehouse did not start in 60 s:\n${out}`));
    }, 60_000);
    const check = () => {
      if (out.includes("[gatehouse] console on")) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on("data", check);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      const Failure = /EADDRINUSE/.test(out) ? PortTaken : Error;
      reject(new Failure(`gatehouse exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    port,
    ports,
    dataDir,
    adminEmail,
    adminPassword,
    proc,
    output: () => out,
    stop: (signal = "SIGTERM") =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once("exit", (code) => resolve(code));
        proc.kill(signal);
      }),
  };
}

/** Logs in through the REST API like `gatehouse login` and returns the bearer token. */
export async function login(url: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
  const body = await res.json();
  if (!res.ok) throw new Error(`login failed: ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

/**
 * RFC 8693 token exchange at /api/v1/token, as an agent gets its token: `subject` delegates to
 * `actor` (`extra`: scope, expires_in, subject_token_type...). Throws with the answer unless 200.
 */
export async function exchangeToken(url: string, subject: string, actor: string, extra: Record<string, string> = {}): Promise<{ access_token: string; token_id: string; depth: number }> {
  const res = await fetch(`${url}/api/v1/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: subject, actor, ...extra }),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`token exchange for ${actor} refused (${res.status}): ${JSON.stringify(body)}`);
  return body;
}

export async function apiCall(url: string, token: string | null, method: string, pathname: string, body?: unknown) {
  const res = await fetch(`${url}/api/v1${pathname}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, body: json as Record<string, any> };
}

/**
 * The end of a suite: stops Gatehouse, then the servers it fronted (in that order, so that no
 * upstream vanishes under a live session), and removes Gatehouse's data dir. GH_DEBUG=1 prints
 * the server's output first. Anything not started (a failed beforeAll) is skipped.
 */
export async function teardown(gh: GatehouseProcess | undefined, ...servers: ({ stop(): Promise<unknown> } | undefined)[]): Promise<void> {
  if (process.env.GH_DEBUG) console.log(gh?.output());
  await gh?.stop();
  for (const server of servers) await server?.stop();
  if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
}
