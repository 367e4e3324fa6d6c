"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "@/components/api";
import { ApprovalCard, type ApprovalView } from "@/components/approvals/approval-card";
import { PageHeader } from "@/components/ui";
import { useLiveEvents } from "@/components/use-live-events";

const TABS = [
  { id: "mine", label: "Mine to decide", query: "status=pending&mine=1" },
  { id: "pending", label: "All pending", query: "status=pending" },
  { id: "decided", label: "Decided", query: "status=decided" },
] as const;

/** The approval queue: updates live as requests arrive and are decided, in any process. */
export function ApprovalsClient({ canDecide }: { canDecide: boolean }) {
  const qc = useQueryClient();
  const [tab, setTab] = useState<(typeof TABS)[number]["id"]>(canDecide ? "mine" : "pending");
  const current = TABS.find((t) => t.id === tab)!;
  const list = useQuery({ queryKey: ["approvals", tab], queryFn: () => api<{ approvals: ApprovalView[] }>(`/approvals?${current.query}`).then((r) => r.approvals) });
  useLiveEvents(["approval.created", "approval.decided"], () => void qc.invalidateQueries({ queryKey: ["approvals"] }));
  return (
    <div className="space-y-5">
      <PageHeader title="Approvals" description="Held statements and just-in-time access requests. An approval covers exactly what is shown: statement, parameters, connection and delegation chain." />
      <div className="flex gap-1 border-b border-slate-200">
        {TABS.filter((t) => canDecide || t.id !== "mine").map((t) => (
          <button key={t.id} onClick={() => setTab(t.id)} className={`-mb-px border-b-2 px-3 py-1.5 text-sm ${tab === t.id ? "border-brand font-medium text-brand" : "border-transparent text-slate-600"}`}>
            {t.label}
          </button>
        ))}
      </div>
      <div className="space-y-3" data-testid="approval-list">
        {(list.data ?? []).map((a) => <ApprovalCard key={a.id} a={a} canDecide={canDecide} />)}
        {list.data?.length === 0 && <p className="text-sm text-slate-500">Nothing here.</p>}
      </div>
    </div>
  );
}
