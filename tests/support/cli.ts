import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "./gatehouse";

/** Runs the real `gatehouse` CLI as a child process, as users run it. */
export const BIN = path.join(ROOT, "bin", "gatehouse.mjs");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { env?: Record<string, string | undefined>; input?: string; cwd?: string; bin?: string[] } = {}): Promise<Run> {
  // Start from a clean slate: nothing from the developer's own Gatehouse setup leaks in.
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("GATEHOUSE_") || k === "XDG_CONFIG_HOME") delete env[k];
  Object.assign(env, opts.env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(opts.bin?.[0] ?? process.execPath, [...(opts.bin?.slice(1) ?? [BIN]), ...args], { cwd: opts.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    // A command that exits before reading its input makes the write fail with EPIPE: no error here.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

export function jsonOf(text: string) {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${JSON.stringify(text)}`);
  }
}
