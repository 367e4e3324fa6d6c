import fs from "node:fs";
import postgres from "postgres";
import type { GatehouseProcess } from "../../tests/support/gatehouse";

/** Resident memory of the Gatehouse process, in MB (the whole process: console, database, gateways). */
export function rssMb(gh: GatehouseProcess): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${gh.proc.pid}/status`, "utf8"))![1]) / 1024;
}

/**
 * RSS before and while `count` client connections (each ran one statement) sit idle: 1 s after
 * they logged in (`after`), and after `idleSeconds` more without traffic (`idle`, null when 0).
 * The 200 logins come at once; what they allocate is garbage until V8 collects and shrinks its
 * heap, which it does on its own once the process is idle, after tens of seconds.
 */
export async function idleConnectionsMemory(gh: GatehouseProcess, token: string, count: number, idleSeconds = 0): Promise<{ before: number; after: number; idle: number | null }> {
  const before = rssMb(gh);
  const idle = Array.from({ length: count }, () =>
    postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "bench", username: gh.adminEmail, password: token, ssl: false, max: 1, idle_timeout: 0, onnotice: () => {} }),
  );
  try {
    await Promise.all(idle.map((c) => c`select 1`));
    await new Promise((r) => setTimeout(r, 1000));
    const after = rssMb(gh);
    if (idleSeconds > 0) await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    return { before, after, idle: idleSeconds > 0 ? rssMb(gh) : null };
  } finally {
    await Promise.all(idle.map((c) => c.end({ timeout: 5 })));
  }
}

/** CPU time the Gatehouse process (all threads) has used so far, user and system, in ms. */
export function cpuMs(gh: GatehouseProcess): { user: number; sys: number } {
  return processCpuMs(gh.proc.pid!);
}

/** CPU time process `pid` (all threads, or its thread `tid` alone) has used so far, user and system, in ms. */
export function processCpuMs(pid: number, tid?: number): { user: number; sys: number } {
  const fields = fs.readFileSync(`/proc/${pid}${tid ? `/task/${tid}` : ""}/stat`, "utf8").split(") ")[1].split(" ");
  // after "comm)": state is [0], utime [11], stime [12], in clock ticks (100 Hz on Linux)
  return { user: Number(fields[11]) * 10, sys: Number(fields[12]) * 10 };
}
