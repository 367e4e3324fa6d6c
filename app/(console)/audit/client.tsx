"use client";
import { useMutation, useQuery } from "@tanstack/react-query";
import { api } from "@/components/api";
import { Badge, Button, Card, PageHeader, Table } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";

interface Entry { seq: number; at: string; actorEmail: string; action: string; subject: string; detail: Record<string, unknown>; hash: string }
type Verify = { ok: true; rows: number; head: string } | { ok: false; rows: number; seq: number; problem: string };

export function AuditClient() {
  const entries = useQuery({ queryKey: ["audit"], queryFn: () => api<{ entries: Entry[] }>("/audit").then((r) => r.entries), refetchInterval: 5000 });
  const verify = useMutation({ mutationFn: () => api<Verify>("/audit/verify") });
  const v = verify.data;
  return (
    <div className="space-y-5">
      <PageHeader
        title="Audit log"
        description="Every change, append-only and hash-chained: each row's hash covers the previous one, so an edited, deleted or reordered row is detected."
        actions={
          <>
            <a className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm" href="/api/v1/audit/export">Export (JSON lines)</a>
            <Button onClick={() => verify.mutate()} disabled={verify.isPending}>Verify chain</Button>
          </>
        }
      />
      {v && (
        <div data-testid="audit-verify" className={`rounded-md p-3 text-sm ${v.ok ? "bg-emerald-50 text-emerald-900" : "bg-red-50 text-red-900"}`}>
          {v.ok ? `Chain intact: ${v.rows} rows, head ${v.head.slice(0, 16)}…` : `Chain broken at row ${v.seq}: ${v.problem}`}
        </div>
      )}
      <Card>
        <Table head={["#", "When", "Actor", "Action", "Subject", "Detail"]}>
          {(entries.data ?? []).map((e) => (
            <tr key={e.seq}>
              <td className="px-2 py-1.5 font-mono text-xs">{e.seq}</td>
              <td className="px-2 py-1.5 text-xs">{new Date(e.at).toLocaleString()}</td>
              <td className="px-2 py-1.5 text-xs">{revealInvisible(e.actorEmail)}</td>
              <td className="px-2 py-1.5"><Badge tone={e.action.includes("fail") ? "red" : "slate"}>{e.action}</Badge></td>
              <td className="px-2 py-1.5 text-xs">{revealInvisible(e.subject)}</td>
              <td className="max-w-md truncate px-2 py-1.5 font-mono text-xs text-slate-500">{revealInvisible(JSON.stringify(e.detail))}</td>
            </tr>
          ))}
        </Table>
      </Card>
    </div>
  );
}
