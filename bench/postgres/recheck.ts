import postgres from "postgres";
import { apiCall, login, type GatehouseProcess } from "../../tests/support/gatehouse";

export interface RecheckCost {
  /** ms the PUT /policies took */
  saveMs: number;
  /** latency of a probe `select 1` through the gateway, ms: before the save, and in the 2 s after it */
  before: { p50: number; max: number };
  after: { p50: number; max: number };
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

/**
 * What saving a policy version costs the sessions already open: every live session decides what
 * it holds open again (lib/gateway/core/standing.ts). With `count` idle sessions open, one more
 * connection runs `select 1` back to back; its latency before the save and in the 2 s after
 * shows how long the recheck holds the gateway's thread.
 */
export async function policySaveCost(gh: GatehouseProcess, token: string, count: number): Promise<RecheckCost> {
  const connect = () => postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "bench", username: gh.adminEmail, password: token, ssl: false, max: 1, idle_timeout: 0, onnotice: () => {} });
  const idle = Array.from({ length: count }, connect);
  const probe = connect();
  const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
  try {
    await Promise.all(idle.map((c) => c`select 1`));
    const current = (await apiCall(gh.url, admin, "GET", "/policies")).body.policy.text as string;
    const samples: { at: number; ms: number }[] = [];
    let stop = false;
    const probing = (async () => {
      while (!stop) {
        const t = performance.now();
        await probe`select 1`;
        samples.push({ at: t, ms: performance.now() - t });
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    const savedAt = performance.now();
    const res = await apiCall(gh.url, admin, "PUT", "/policies", { text: `${current}\n// bench: a new version ${Date.now()}\n`, comment: "bench: recheck cost" });
    if (res.status !== 200) throw new Error(`save: ${JSON.stringify(res.body)}`);
    const saveMs = performance.now() - savedAt;
    await new Promise((r) => setTimeout(r, 2000));
    stop = true;
    await probing;
    const before = samples.filter((s) => s.at < savedAt).map((s) => s.ms);
    const after = samples.filter((s) => s.at >= savedAt).map((s) => s.ms);
    return { saveMs, before: { p50: quantile(before, 0.5), max: Math.max(...before) }, after: { p50: quantile(after, 0.5), max: Math.max(...after) } };
  } finally {
    await Promise.all([...idle, probe].map((c) => c.end({ timeout: 5 })));
  }
}
