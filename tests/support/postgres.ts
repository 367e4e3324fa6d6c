import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { freePort } from "./ports";

/**
 * A real PostgreSQL 15 (Debian's binaries) in a temp dir on a free high port. As root, initdb
 * and the server run as the `postgres` OS user, as PostgreSQL insists.
 */
export interface Postgres15 {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** a fast shutdown that keeps the data: the database is unavailable until up() */
  down(): Promise<void>;
  /** starts it again on the same port with the same data */
  up(): Promise<void>;
}

const BIN = "/usr/lib/postgresql/15/bin";
const PASSWORD = "gatehouse-test";

/** A start whose postmaster exited because another process took its port meanwhile. */
class PortTaken extends Error {}

/**
 * `freePort()` only says a port was free a moment ago: a suite running in parallel can bind it
 * before the postmaster does. Such a start is retried on a fresh port; any other failure is not.
 */
export async function startPostgres15(): Promise<Postgres15> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-pg15-"));
  let port = 0;
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync("chown", ["-R", "postgres:postgres", dir]);
  const as = (cmd: string, args: string[]) => (asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]) as [string, string[]];
  const pwFile = path.join(dir, "pw");
  fs.writeFileSync(pwFile, `${PASSWORD}\n`);
  if (asRoot) execFileSync("chown", ["postgres:postgres", pwFile]);
  const data = path.join(dir, "data");
  const template = clusterTemplate(as, pwFile);
  execFileSync("cp", ["-a", template, data]);
  // Names this server, so the readiness probe cannot mistake another suite's for it on a taken port.
  const name = path.basename(dir);
  const url = () => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  let proc: ReturnType<typeof spawn> | null = null;
  const up = async () => {
    const [cmd, args] = as(`${BIN}/postgres`, ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=300", "-c", `cluster_name=${name}`]);
    const started = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    proc = started;
    let err = "";
    let exit: number | null | undefined;
    started.stderr!.on("data", (d) => (err += d));
    started.once("close", (code) => (exit = code)); // after stderr ended: the log is complete
    // The port opens before logins are accepted (57P03 "the database system is starting up", for
    // longer on a loaded machine): ready once it answers a query.
    const answered = await answers(url(), name, () => exit === undefined, 30_000).catch((e: Error) => e);
    if (exit !== undefined) throw new (/Address already in use/.test(err) ? PortTaken : Error)(`postgres exited with ${exit}:\n${err}`);
    if (answered instanceof Error) throw new Error(`${answered.message}\n${err}`);
  };
  const down = async () => {
    const running = proc;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once("exit", r));
    // runuser does not forward signals: ask the postmaster itself for a fast shutdown.
    execFileSync(...as(`${BIN}/pg_ctl`, ["-D", data, "stop", "-m", "fast", "-w"]), { stdio: "ignore" });
    await exited;
  };
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await up();
      break;
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 5) throw err;
    }
  }
  return {
    url: url(),
    port,
    down,
    up,
    stop: async () => {
      await down();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once the server named `name` answers a query at `url`; rejects after timeoutMs or once `alive()` is false. */
async function answers(url: string, name: string, alive: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "nothing tried";
  while (alive()) {
    const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      const [{ cluster }] = await sql`select current_setting('cluster_name') as cluster`;
      if (cluster === name) return;
      last = `another server (${cluster}) answers on its port`;
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
    if (Date.now() > deadline) throw new Error(`PostgreSQL did not answer within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`PostgreSQL exited: ${last}`);
}

/**
 * initdb makes the same cluster every time for the same binaries and options (a second of CPU for
 * each of the ~50 suites that start one): it runs once per machine, into a template under the temp
 * dir that later servers copy (`cp -a`, 0.2 s). A template is published by renaming a finished
 * one into place, so a suite running in parallel never copies half of one.
 */
function clusterTemplate(as: (cmd: string, args: string[]) => [string, string[]], pwFile: string): string {
  const options = ["-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"];
  const version = execFileSync(`${BIN}/initdb`, ["--version"], { encoding: "utf8" }).trim();
  const key = createHash("sha256").update(JSON.stringify({ version, options, password: PASSWORD })).digest("hex").slice(0, 16);
  const template = path.join(os.tmpdir(), `gh-pg15-template-${key}`);
  if (fs.existsSync(path.join(template, "PG_VERSION"))) return template;
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), "gh-pg15-initdb-"));
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres:postgres", staging]);
  try {
    execFileSync(...as(`${BIN}/initdb`, ["-D", path.join(staging, "data"), ...options, `--pwfile=${pwFile}`]), { stdio: "ignore" });
    fs.renameSync(path.join(staging, "data"), template);
  } catch (err) {
    // another suite published it first
    if (!fs.existsSync(path.join(template, "PG_VERSION"))) throw err;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return template;
}

/** Runs `sql` (one or more statements) on a connection of its own to `url`, closed after: a test's direct look at an upstream. */
export async function sqlOnce<T extends Record<string, unknown>[] = Record<string, unknown>[]>(url: string, sql: string): Promise<T> {
  const db = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return (await db.unsafe(sql)) as unknown as T;
  } finally {
    await db.end();
  }
}

/** Creates database `name` on `pg` and returns its URL: a Gatehouse store (DATABASE_URL) beside the upstream data. */
export async function createDatabase(pg: Postgres15, name: string): Promise<string> {
  const setup = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    await setup.unsafe(`create database "${name}"`);
  } finally {
    await setup.end();
  }
  return pg.url.replace(/\/postgres$/, `/${name}`);
}
