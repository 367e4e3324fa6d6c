/**
 * PostgreSQL gateway throughput: pgbench against a real PostgreSQL 15 directly and through
 * Gatehouse, in the same run, printing the ratio. Also: fetching 500k rows with three masked
 * columns, and the process memory with 200 idle connections.
 * Usage: npx tsx bench/postgres/run.ts [--seconds 10] [--clients 8]
 */
import { execFileSync } from "node:child_process";
import postgres from "postgres";
import fs from "node:fs";
import { apiCall, login, startGatehouse } from "../../tests/support/gatehouse";
import { startPostgres15 } from "../../tests/support/postgres";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg("seconds", 10);
/** as the issue specifies: select-only with 8 clients, TPC-B-like with 4 */
const SELECT_CLIENTS = arg("clients", 8);
const TPCB_CLIENTS = 4;
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
      const clients = (extra as readonly string[]).includes("-S") ? SELECT_CLIENTS : TPCB_CLIENTS;
      const args = [...extra, "-c", String(clients), "-j", "2", "-T", String(SECONDS), "-n"];
      const d = pgbench(args, direct);
      const g = pgbench(args, gated);
      rows.push([label, d, g]);
    }
    // Masked fetch: 500k rows with three masked columns, read by an agent (the shipped policies
    // mask agents' reads with rule set "pii"), timed against the same query direct.
    const setup = postgres(pg.url, { max: 1, onnotice: () => {} });
    await setup.unsafe(`create table people as select g as id, 'user' || g || '@example.com' as email,
      lpad((100 + g % 800)::text, 3, '0') || '-' || lpad((10 + g % 89)::text, 2, '0') || '-' || lpad((1000 + g % 8999)::text, 4, '0') as ssn,
      '4111111111111111' as card_number from generate_series(1, 500000) g`);
    await setup.end();
    const agent = await fetch(`${gh.url}/api/v1/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:token-exchange", subject_token: admin, actor: "bench-agent" }) }).then((r) => r.json());
    const fetchSecs = (env: Record<string, string>) => {
      const t = process.hrtime.bigint();
      execFileSync("psql", ["-X", "-q", "-c", "select id, email, ssn, card_number from people"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"], maxBuffer: 1 << 30 });
      return Number(process.hrtime.bigint() - t) / 1e9;
    };
    const fetchDirect = fetchSecs(direct);
    const fetchMasked = fetchSecs({ ...gated, PGPASSWORD: agent.access_token });

    // Memory: 200 idle client connections through the gateway.
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${gh.proc.pid}/status`, "utf8"))![1]) / 1024;
    const before = rss();
    const idle = Array.from({ length: 200 }, () => postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "bench", username: gh.adminEmail, password: admin, ssl: false, max: 1, idle_timeout: 0, onnotice: () => {} }));
    await Promise.all(idle.map((c) => c`select 1`));
    await new Promise((r) => setTimeout(r, 1000));
    const after = rss();
    await Promise.all(idle.map((c) => c.end({ timeout: 5 })));

    console.log(`\npgbench, ${SECONDS} s each (select-only ${SELECT_CLIENTS} clients, TPC-B ${TPCB_CLIENTS}), PostgreSQL 15 upstream on loopback\n`);
    console.log("workload                          direct tps   via gatehouse tps   ratio");
    for (const [label, d, g] of rows) console.log(`${label.padEnd(34)}${d.toFixed(0).padStart(10)}${g.toFixed(0).padStart(20)}${(g / d).toFixed(2).padStart(8)}`);
    console.log(`\nfetch 500k rows, 3 masked columns (agent):  direct ${fetchDirect.toFixed(2)} s, via gatehouse ${fetchMasked.toFixed(2)} s, ratio ${(fetchDirect / fetchMasked).toFixed(2)}`);
    console.log(`200 idle connections: gatehouse RSS ${before.toFixed(0)} MB → ${after.toFixed(0)} MB`);
    console.log("\nratio = gatehouse / direct throughput (1.00 = no overhead). Every statement through Gatehouse is classified, decided by policy and recorded.");
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
