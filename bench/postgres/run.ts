/**
 * PostgreSQL gateway throughput: pgbench against a real PostgreSQL 15 directly and through
 * Gatehouse, in the same run, printing the ratio. Usage: npx tsx bench/postgres/run.ts [--seconds 10] [--clients 4]
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { apiCall, login, startGatehouse } from "../../tests/support/gatehouse";
import { startPostgres15 } from "../../tests/support/postgres";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg("seconds", 10);
const CLIENTS = arg("clients", 4);
const PGBENCH = "/usr/lib/postgresql/15/bin/pgbench";

function pgbench(args: string[], env: Record<string, string>): number {
  const out = execFileSync(PGBENCH, args, { env: { ...process.env, ...env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const m = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(out);
  if (!m) throw new Error(`could not read tps from pgbench:\n${out}`);
  return Number(m[1]);
}

async function main() {
  const pg = await startPostgres15();
  const gh = await startGatehouse({ demo: false });
  try {
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const created = await apiCall(gh.url, admin, "POST", "/connections", { name: "bench", type: "postgres", upstream: `postgres://127.0.0.1:${pg.port}/postgres`, username: "postgres", secret: "gatehouse-test" });
    if (created.status !== 200) throw new Error(`create connection: ${JSON.stringify(created.body)}`);
    const direct = { PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "postgres", PGPASSWORD: "gatehouse-test", PGDATABASE: "postgres", PGSSLMODE: "disable" };
    const gated = { PGHOST: "127.0.0.1", PGPORT: String(gh.ports.postgres), PGUSER: gh.adminEmail, PGPASSWORD: admin, PGDATABASE: "bench", PGSSLMODE: "disable" };
    execFileSync(PGBENCH, ["-i", "-s", "2", "-q"], { env: { ...process.env, ...direct }, stdio: "ignore" });

    const rows: [string, number, number][] = [];
    for (const [label, extra] of [
      ["select-only, simple protocol", ["-S", "-M", "simple"]],
      ["select-only, extended protocol", ["-S", "-M", "extended"]],
      ["select-only, prepared", ["-S", "-M", "prepared"]],
      ["tpc-b (writes), simple", ["-M", "simple"]],
    ] as const) {
      const args = [...extra, "-c", String(CLIENTS), "-j", "2", "-T", String(SECONDS), "-n"];
      const d = pgbench(args, direct);
      const g = pgbench(args, gated);
      rows.push([label, d, g]);
    }
    console.log(`\npgbench, ${CLIENTS} clients, ${SECONDS} s each, PostgreSQL 15 upstream on loopback\n`);
    console.log("workload                          direct tps   via gatehouse tps   ratio");
    for (const [label, d, g] of rows) console.log(`${label.padEnd(34)}${d.toFixed(0).padStart(10)}${g.toFixed(0).padStart(20)}${(g / d).toFixed(2).padStart(8)}`);
    console.log("\nratio = gatehouse / direct (1.00 = no overhead). Every statement through Gatehouse is classified, decided by policy and recorded.");
  } catch (err) {
    console.error(gh.output().split("\n").filter((l) => !l.includes("GET ")).slice(-40).join("\n"));
    throw err;
  } finally {
    await gh.stop();
    await pg.stop();
    fs.rmSync(gh.dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
