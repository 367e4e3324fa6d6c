import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { freePort, waitForPort } from "./ports";

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

export async function startPostgres15(): Promise<Postgres15> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-pg15-"));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync("chown", ["-R", "postgres:postgres", dir]);
  const as = (cmd: string, args: string[]) => (asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]) as [string, string[]];
  const pwFile = path.join(dir, "pw");
  fs.writeFileSync(pwFile, `${PASSWORD}\n`);
  if (asRoot) execFileSync("chown", ["postgres:postgres", pwFile]);
  const data = path.join(dir, "data");
  const template = clusterTemplate(as, pwFile);
  execFileSync("cp", ["-a", template, data]);
  let proc: ReturnType<typeof spawn> | null = null;
  const up = async () => {
    const [cmd, args] = as(`${BIN}/postgres`, ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=300"]);
    const started = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    proc = started;
    let err = "";
    started.stderr!.on("data", (d) => (err += d));
    await waitForPort(port, 30_000).catch((e) => {
      throw new Error(`${e.message}\n${err}`);
    });
    // The port opens slightly before the server accepts logins.
    await new Promise((r) => setTimeout(r, 300));
  };
  const down = async () => {
    const running = proc;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once("exit", r));
    // runuser does not forward signals: ask the postmaster itself for a fast shutdown.
    execFileSync(...as(`${BIN}/pg_ctl`, ["-D", data, "stop", "-m", "fast", "-w"]), { stdio: "ignore" });
    await exited;
  };
  await up();
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    down,
    up,
    stop: async () => {
      await down();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
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
