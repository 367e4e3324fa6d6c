"use client";
import { useMutation } from "@tanstack/react-query";
import { api } from "@/components/api";
import { Badge, Button, Card, ErrorText, Field, Input, Select, Textarea } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";

interface SimResult {
  request: { action: string; kind: string; tables: string[]; functions: string[] };
  /** PostgreSQL: why the upstream's catalog made the statement unknown (null: it did not) */
  upstream?: { userCode: string | null; unread?: string };
  simulation: {
    verdict: { type: string; reason?: string; ruleSets?: string[]; maskRuleSets?: string[]; requirement?: { approverGroups: string[]; minApprovals: number } };
    determining: { id: string; effect: string; line?: number }[];
    errors: { policy: string; message: string }[];
    explanation: string;
    policyVersion: string | null;
  };
}

const TONE: Record<string, "green" | "red" | "amber" | "blue"> = { allow: "green", deny: "red", hold: "amber", mask: "blue" };

/** What would the policies say? Same classifier and request shape as the gateways. */
export function Simulator({ connections, me }: { connections: string[]; me: string }) {
  const run = useMutation({ mutationFn: (body: unknown) => api<SimResult>("/policies/simulate", { method: "POST", body }) });
  const r = run.data;
  const masks = r?.simulation.verdict.ruleSets ?? r?.simulation.verdict.maskRuleSets ?? [];
  return (
    <Card title="Simulator">
      <form
        className="space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const agents = String(f.get("agents") ?? "").split(/[,→>]/).map((s) => s.trim()).filter(Boolean);
          run.mutate({ principal: f.get("principal"), agents, connection: f.get("connection"), statement: String(f.get("statement") ?? "") || undefined, origin: f.get("origin") });
        }}
      >
        <div className="grid grid-cols-2 gap-3">
          <Field label="User"><Input name="principal" defaultValue={me} required /></Field>
          <Field label="Agent chain" hint="e.g. claude, sub-agent (depth 2)"><Input name="agents" /></Field>
          <Field label="Connection">
            <Select name="connection" className="w-full">{connections.map((c) => <option key={c}>{c}</option>)}</Select>
          </Field>
          <Field label="Origin">
            <Select name="origin" className="w-full"><option>native</option><option>web-console</option><option>mcp</option></Select>
          </Field>
        </div>
        <Field label="Statement or command" hint="Empty = the connect decision">
          <Textarea name="statement" rows={3} placeholder="UPDATE customers SET email = 'x' WHERE id = 1" />
        </Field>
        <Button type="submit" disabled={run.isPending}>Simulate</Button>
      </form>
      <ErrorText error={run.error} />
      {r && (
        <div className="mt-4 space-y-2 text-sm" data-testid="simulation-result">
          <div className="flex items-center gap-2">
            <Badge tone={TONE[r.simulation.verdict.type] ?? "slate"}>{r.simulation.verdict.type}</Badge>
            <span>{revealInvisible(r.simulation.explanation)}</span>
          </div>
          <div className="text-xs text-slate-600">
            classified as <b>{r.request.action}</b> / {r.request.kind}
            {r.request.tables.length > 0 && <> · tables {revealInvisible(r.request.tables.join(", "))}</>}
            {r.request.functions.length > 0 && <> · functions {revealInvisible(r.request.functions.join(", "))}</>}
          </div>
          {r.upstream?.userCode && <div className="text-xs">unknown, as the gateway decides it: {revealInvisible(r.upstream.userCode)}</div>}
          {r.upstream?.unread && <div className="text-xs text-amber-700">{r.upstream.unread}</div>}
          {r.simulation.verdict.requirement && (
            <div className="text-xs">needs {r.simulation.verdict.requirement.minApprovals} approval(s) from {r.simulation.verdict.requirement.approverGroups.join(" or ")}</div>
          )}
          {masks.length > 0 && <div className="text-xs">masking rule sets applied: {masks.join(", ")}</div>}
          <div className="text-xs">decided by: {revealInvisible(r.simulation.determining.map((d) => `${d.id} (${d.effect}${d.line ? `, line ${d.line}` : ""})`).join("; ")) || "no policy (default deny)"}</div>
          {r.simulation.errors.length > 0 && <div className="text-xs text-red-700">errors: {revealInvisible(r.simulation.errors.map((e) => `${e.policy}: ${e.message}`).join("; "))}</div>}
        </div>
      )}
    </Card>
  );
}
