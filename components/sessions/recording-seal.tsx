"use client";
import { useQuery } from "@tanstack/react-query";
import { api } from "@/components/api";
import { Badge } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";

type Verification =
  | { state: "intact"; events: number; sealedAt: string; auditSeq: number }
  | { state: "tampered"; events: number; auditSeq: number; problem: string }
  | { state: "unsealed"; reason: string };

/**
 * Whether an ended session's recording is still what was sealed into the audit log when it ended
 * (GET /api/v1/sessions/ID/verify, audited like any read of the recording). Checked once per view:
 * a live session has no seal yet.
 */
export function RecordingSeal({ id, live }: { id: string; live: boolean }) {
  const q = useQuery({ queryKey: ["session-verify", id], enabled: !live, staleTime: Infinity, queryFn: () => api<{ verification: Verification }>(`/sessions/${id}/verify`).then((r) => r.verification) });
  if (live) return <span data-testid="recording-seal" data-state="live" className="text-slate-500">recording sealed when the session ends</span>;
  const v = q.data;
  if (q.error) return <span data-testid="recording-seal" data-state="error" className="text-red-700">recording not verified: {(q.error as Error).message}</span>;
  if (!v) return <span data-testid="recording-seal" data-state="checking" className="text-slate-500">verifying recording…</span>;
  if (v.state === "intact") {
    return (
      <span data-testid="recording-seal" data-state="intact" title={`sealed ${new Date(v.sealedAt).toLocaleString()}, audit row ${v.auditSeq}`}>
        <Badge tone="green">recording intact</Badge> <span className="text-slate-600">{v.events} events as sealed</span>
      </span>
    );
  }
  if (v.state === "tampered") {
    return (
      <span data-testid="recording-seal" data-state="tampered">
        <Badge tone="red">recording TAMPERED</Badge> <span className="text-red-700">{revealInvisible(v.problem)}</span>
      </span>
    );
  }
  return (
    <span data-testid="recording-seal" data-state="unsealed" title={v.reason}>
      <Badge tone="amber">recording not sealed</Badge>
    </span>
  );
}
