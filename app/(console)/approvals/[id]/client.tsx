"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/components/api";
import { ApprovalCard, type ApprovalView } from "@/components/approvals/approval-card";
import { ErrorText, PageHeader } from "@/components/ui";
import { useLiveEvents } from "@/components/use-live-events";

export function ApprovalDetailClient({ id, canDecide }: { id: number; canDecide: boolean }) {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: ["approval", id], queryFn: () => api<{ approval: ApprovalView }>(`/approvals/${id}`).then((r) => r.approval), enabled: Number.isInteger(id) });
  useLiveEvents(["approval.decided"], (_t, data) => {
    if ((data as { id?: number })?.id === id) void qc.invalidateQueries({ queryKey: ["approval", id] });
  });
  return (
    <div className="space-y-5">
      <PageHeader title={`Approval #${id}`} />
      {q.data && <ApprovalCard a={q.data} canDecide={canDecide} />}
      <ErrorText error={q.error} />
    </div>
  );
}
