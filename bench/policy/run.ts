/**
 * Policy decision latency, three ways, in one run against the default policy set:
 *
 *   cached    PolicyRuntime.decide with the decision cache (steady state: the working set is
 *             warm, as on a busy session re-running the same statements)
 *   stateful  the same runtime with the cache off: statefulIsAuthorized on a preparsed set
 *   reparse   the naive baseline: isAuthorized with the policy and schema text on every call
 *
 * Target: cached p50 <= 20 µs. Prints PASS/FAIL; exits non-zero on FAIL only with --strict.
 * Usage: npx tsx bench/policy/run.ts [--strict]
 */
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import type { GatewayRequest, RequestKind, Verdict } from "@/lib/gateway/core/types";
import { buildCedarRequest, toCedarContext } from "@/lib/gateway/policy/context";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { PolicyRuntime } from "@/lib/gateway/policy/runtime";
import { POLICY_SCHEMA } from "@/lib/gateway/policy/schema";
import { makeRequest } from "@/lib/gateway/policy/test-fixtures";
import { combineVerdict, type EvaluationResult } from "@/lib/gateway/policy/verdict";

const TARGET_P50_US = 20;
const strict = process.argv.includes("--strict");

// A working set shaped like real traffic: three actor depths, every statement class, prod and
// non-prod, a few distinct statements each.
const KINDS: RequestKind[] = ["read", "write", "ddl", "admin", "unknown"];
const requests: GatewayRequest[] = [];
for (const depth of [0, 1, 2])
  for (const kind of KINDS)
    for (const prod of [false, true])
      for (const table of ["orders", "customers", "invoices"])
        requests.push(
          makeRequest({ depth, kind, tags: prod ? ["prod"] : ["staging"], tables: [table], text: `/* ${kind} */ ... ${table}` }),
        );

const cachedRuntime = new PolicyRuntime();
const statefulRuntime = new PolicyRuntime({ cache: false });
cachedRuntime.setPolicies(DEFAULT_POLICIES, "bench");
statefulRuntime.setPolicies(DEFAULT_POLICIES, "bench");
const engine = statefulRuntime.engine!;
const byCedarId = new Map(engine.policies.map((p) => [p.cedarId, p]));

/** The naive path: parse the schema and all policies again for every decision. */
function reparseDecide(req: GatewayRequest): Verdict {
  const built = buildCedarRequest(req, req.now ?? new Date());
  if (!built.ok) throw new Error(built.reason);
  const input = built.request;
  const answer = cedar.isAuthorized({
    principal: input.principal,
    action: input.action,
    resource: input.resource,
    context: toCedarContext(input),
    entities: input.entities,
    schema: POLICY_SCHEMA,
    policies: { staticPolicies: DEFAULT_POLICIES },
    validateRequest: true,
  });
  const result: EvaluationResult =
    answer.type === "success"
      ? { status: "decided", decision: answer.response.decision, determining: answer.response.diagnostics.reason, errors: [], elapsedMs: 0 }
      : { status: "failed", message: "failure", elapsedMs: 0 };
  return combineVerdict({ action: req.request.action, connection: req.connection.name, kind: req.request.kind, result, policies: byCedarId, timeoutMs: 1e9 });
}

function measure(label: string, iterations: number, decide: (r: GatewayRequest) => Verdict) {
  for (let i = 0; i < Math.min(iterations, 2_000); i++) decide(requests[i % requests.length]!); // warm-up
  const samples = new Float64Array(iterations);
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    const req = requests[i % requests.length]!;
    const t0 = performance.now();
    decide(req);
    samples[i] = (performance.now() - t0) * 1000;
  }
  const wallMs = performance.now() - started;
  samples.sort();
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]!;
  return { label, iterations, p50: pct(0.5), p95: pct(0.95), p99: pct(0.99), wallMs };
}

// The three paths must agree, or the comparison is meaningless.
for (const req of requests) {
  const a = JSON.stringify(cachedRuntime.decide(req));
  const b = JSON.stringify(statefulRuntime.decide(req));
  const c = JSON.stringify(reparseDecide(req));
  if (a !== b || b !== c) {
    console.error("verdicts disagree", { a, b, c });
    process.exit(1);
  }
}

const results = [
  measure("cached", 200_000, (r) => cachedRuntime.decide(r)),
  measure("stateful (no cache)", 5_000, (r) => statefulRuntime.decide(r)),
  measure("reparse per call (baseline)", 600, reparseDecide),
];
const [cached, stateful, reparse] = results as [typeof results[0], typeof results[0], typeof results[0]];

const fmt = (n: number) => n.toFixed(1).padStart(9);
console.log(`policy decision latency, default policies (${engine.policies.length} policies), ${requests.length} distinct requests`);
console.log(`${"path".padEnd(30)}${"iters".padStart(9)}${"p50 µs".padStart(9)}${"p95 µs".padStart(9)}${"p99 µs".padStart(9)}`);
for (const r of results) {
  console.log(`${r.label.padEnd(30)}${String(r.iterations).padStart(9)}${fmt(r.p50)}${fmt(r.p95)}${fmt(r.p99)}`);
}
console.log(`ratio p50: reparse/stateful ${(reparse.p50 / stateful.p50).toFixed(1)}x, stateful/cached ${(stateful.p50 / cached.p50).toFixed(1)}x, reparse/cached ${(reparse.p50 / cached.p50).toFixed(1)}x`);
const stats = cachedRuntime.cacheStats()!;
console.log(`cache: ${stats.size} entries, ${stats.hits} hits, ${stats.misses} misses`);

const pass = cached.p50 <= TARGET_P50_US;
console.log(`${pass ? "PASS" : "FAIL"}: cached p50 ${cached.p50.toFixed(1)} µs (target <= ${TARGET_P50_US} µs)`);
process.exit(!pass && strict ? 1 : 0);
