/**
 * The simulator view of one decision, for the console's policy simulator and
 * `gatehouse policies test`: the verdict plus which policies decided it, which policies errored,
 * and one human sentence. Always a fresh evaluation (never the cache), so what an admin sees is
 * what the current policy text says.
 */
import type { GatewayRequest, Verdict } from "@/lib/gateway/core/types";
import type { Evaluation, PolicyEngine } from "./engine";

export interface SimulatedPolicy {
  id: string;
  effect: "permit" | "forbid";
  line?: number;
}

export interface Simulation {
  verdict: Verdict;
  policyVersion: string | null;
  determining: SimulatedPolicy[];
  errors: { policy: string; message: string; line?: number }[];
  explanation: string;
  elapsedMs: number | null;
}

export function simulateWith(engine: PolicyEngine, req: GatewayRequest): Simulation {
  const evaluation: Evaluation = engine.evaluate(req);
  const { result, verdict } = evaluation;
  const describe = (cedarId: string): SimulatedPolicy => {
    const p = engine.policies.find((x) => x.cedarId === cedarId);
    return p ? { id: p.id, effect: p.effect, line: p.line } : { id: cedarId, effect: "permit" };
  };
  // Source order, like the verdict's `policies` (Cedar reports them in hash order).
  const matched = new Set(result.status === "decided" ? result.determining : []);
  const determining = engine.policies.filter((p) => matched.has(p.cedarId)).map((p) => describe(p.cedarId));
  const errors =
    result.status === "decided"
      ? result.errors.map((e) => {
          const p = describe(e.policyId);
          return { policy: p.id, message: e.message, line: p.line };
        })
      : result.status === "failed"
        ? [{ policy: "(evaluation)", message: result.message }]
        : [];
  return {
    verdict,
    policyVersion: engine.version,
    determining,
    errors,
    explanation: explainVerdict(verdict, req.request?.action, req.connection?.name),
    elapsedMs: "elapsedMs" in result ? result.elapsedMs : null,
  };
}

export function explainVerdict(verdict: Verdict, action: string | undefined, connection: string | undefined): string {
  const what = `${action ?? "?"} on ${connection ?? "?"}`;
  const by = (ids: readonly string[]) => (ids.length > 0 ? ` (${ids.join(", ")})` : "");
  switch (verdict.type) {
    case "allow":
      return `allow: ${what} is permitted${by(verdict.policies)}`;
    case "mask":
      return `mask: ${what} is permitted; results are masked with ${verdict.ruleSets.join(", ")}${by(verdict.policies)}`;
    case "hold": {
      const { approverGroups, minApprovals } = verdict.requirement;
      const n = minApprovals === 1 ? "1 approval" : `${minApprovals} approvals`;
      const masks = verdict.maskRuleSets.length > 0 ? `; results are masked with ${verdict.maskRuleSets.join(", ")}` : "";
      return `hold: ${what} needs ${n} from ${approverGroups.join(" or ")}${masks}${by(verdict.policies)}`;
    }
    case "deny":
      return `deny: ${verdict.reason}${by(verdict.policies)}`;
  }
}
