import { execFileSync } from "node:child_process";

/**
 * Freezes a PostgreSQL the test started (SIGSTOP to its postmaster and every backend): it still
 * accepts TCP connections and keeps the open ones, but answers nothing, as a database host that
 * hangs or is cut off mid-connection. Returns the function that thaws exactly those processes.
 */
export function freezePostgres(port: number): () => void {
  const listening = execFileSync("ss", ["-ltnpH", `sport = :${port}`], { encoding: "utf8" });
  const postmaster = /pid=(\d+)/.exec(listening)?.[1];
  if (!postmaster) throw new Error(`no process listens on port ${port}: ${listening}`);
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", postmaster], { encoding: "utf8" }).split("\n").map((s) => s.trim()).filter(Boolean);
  const pids = [postmaster, ...children].map(Number);
  // As root the postmaster runs under runuser, which stops itself when its child stops (as su
  // does, for job control) and waits for a SIGCONT of its own: it is thawed too.
  const parent = Number(execFileSync("ps", ["-o", "ppid=", "-p", postmaster], { encoding: "utf8" }).trim());
  for (const pid of pids) process.kill(pid, "SIGSTOP");
  return () => {
    for (const pid of [parent, ...pids]) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // gone meanwhile
      }
    }
  };
}
