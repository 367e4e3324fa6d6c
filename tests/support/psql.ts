import { spawn } from "node:child_process";

/** What one run of the real psql client printed. `out` is stdout and stderr as they arrived. */
export interface PsqlRun {
  code: number | null;
  stdout: string;
  stderr: string;
  out: string;
}

/**
 * Runs the real `psql` (without ~/.psqlrc) against `conninfo` with `password` (a Gatehouse token)
 * and `args` after the connection string, e.g. `["-A", "-t", "-c", sql]`. `onStderr` sees stderr
 * as it grows: a held statement's notice arrives long before psql exits.
 */
export function runPsql(conninfo: string, password: string, args: string[], opts: { stdin?: string; onStderr?: (stderr: string) => void } = {}): Promise<PsqlRun> {
  return new Promise((resolve) => {
    const p = spawn("psql", [conninfo, "-X", ...args], { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" } });
    const run: PsqlRun = { code: null, stdout: "", stderr: "", out: "" };
    p.stdout.on("data", (d) => {
      run.stdout += d;
      run.out += d;
    });
    p.stderr.on("data", (d) => {
      run.stderr += d;
      run.out += d;
      opts.onStderr?.(run.stderr);
    });
    p.on("close", (code) => resolve({ ...run, code }));
    // psql -c may exit before it reads stdin; the write then fails with EPIPE, which is no error here.
    p.stdin.on("error", () => {});
    p.stdin.end(opts.stdin ?? "");
  });
}

/** The conninfo of a connection behind the gateway on `port`, for `user`, without TLS. */
export const gatewayConninfo = (port: number, dbname: string, user: string) => `host=127.0.0.1 port=${port} dbname=${dbname} user=${user} sslmode=disable`;
