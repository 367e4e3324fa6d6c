"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "@/components/api";
import { Badge, Button, ErrorText, Input, Select } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";

export interface ApprovalView {
  id: number;
  kind: string;
  status: string;
  connection: string;
  connectionDeleted?: boolean;
  requester: string;
  chain: { kind: string; name: string }[];
  request: { action?: string; kind?: string; text?: string; tables?: string[]; params?: unknown[]; client?: { address?: string; origin?: string; protocol?: string } };
  reason: string;
  approverGroups: string[];
  minApprovals: number;
  approvals: number;
  durationSeconds: number | null;
  expiresAt: string;
  createdAt: string;
  decisions?: { approver: string; decision: string; comment: string; at: string }[];
}

const STATUS_TONE: Record<string, "amber" | "green" | "red" | "slate"> = { pending: "amber", approved: "green", used: "green", denied: "red", expired: "slate", cancelled: "slate" };
const WINDOWS = [["once", 0], ["15 minutes", 900], ["1 hour", 3600], ["8 hours", 28800]] as const;

/** One approval request as an approver must see it: who, through which chain, exactly what. */
export function ApprovalCard({ a, canDecide }: { a: ApprovalView; canDecide: boolean }) {
  const qc = useQueryClient();
  const [comment, setComment] = useState("");
  const [windowSeconds, setWindow] = useState(0);
  const done = () => {
    void qc.invalidateQueries({ queryKey: ["approvals"] });
    void qc.invalidateQueries({ queryKey: ["approval", a.id] });
  };
  const approve = useMutation({ mutationFn: () => api(`/approvals/${a.id}/approve`, { method: "POST", body: { comment, ...(windowSeconds ? { windowSeconds } : {}) } }), onSuccess: done });
  const deny = useMutation({ mutationFn: () => api(`/approvals/${a.id}/deny`, { method: "POST", body: { reason: comment } }), onSuccess: done });
  const req = a.request ?? {};
  return (
    <article data-testid={`approval-${a.id}`} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <header className="flex flex-wrap items-center gap-2">
        <a href={`/approvals/${a.id}`} className="font-semibold">#{a.id}</a>
        <Badge tone={STATUS_TONE[a.status] ?? "slate"}>{a.status}</Badge>
        <Badge tone="blue">{a.kind === "access" ? "access request" : `${req.action ?? "?"} · ${req.kind ?? "?"}`}</Badge>
        <span className="text-sm">on <b>{revealInvisible(a.connection)}</b>{a.connectionDeleted && <span className="text-slate-500"> (deleted)</span>}</span>
        <span className="ml-auto text-xs text-slate-500">expires {new Date(a.expiresAt).toLocaleTimeString()}</span>
      </header>
      <div className="mt-2 text-sm">
        <span className="text-slate-500">requested by </span>
        <span data-testid="approval-chain">{revealInvisible(a.chain.map((c) => `${c.name}${c.kind !== "user" ? ` (${c.kind})` : ""}`).join(" → "))}</span>
        {req.client?.address && <span className="text-xs text-slate-500"> from {revealInvisible(`${req.client.address} via ${req.client.origin}`)}</span>}
      </div>
      {a.kind === "access" ? (
        <p className="mt-2 text-sm">
          Access for {Math.round((a.durationSeconds ?? 0) / 60)} minutes
          {a.chain.length > 1 ? `, for this ${revealInvisible(a.chain[a.chain.length - 1].name)} token and the agents it starts only.` : ", for all of this user's sessions."}
        </p>
      ) : (
        <pre className="mt-2 max-h-48 overflow-auto whitespace-pre-wrap rounded bg-slate-900 p-2 font-mono text-xs text-slate-100">{revealInvisible(req.text ?? "")}</pre>
      )}
      {req.tables && req.tables.length > 0 && <p className="mt-1 text-xs text-slate-600">tables: {revealInvisible(req.tables.join(", "))}</p>}
      {req.params && req.params.length > 0 && <p className="mt-1 text-xs text-slate-600">parameters: {revealInvisible(JSON.stringify(req.params))}</p>}
      {a.reason && <p className="mt-2 text-sm"><span className="text-slate-500">reason: </span>{revealInvisible(a.reason)}</p>}
      <p className="mt-2 text-xs text-slate-600">
        needs {a.minApprovals} approval(s) from {a.approverGroups.join(" or ")} · {a.approvals} so far
        {a.decisions?.map((d) => <span key={d.approver + d.at}> · {d.approver} {d.decision}d{d.comment ? ` (“${revealInvisible(d.comment)}”)` : ""}</span>)}
      </p>
      {canDecide && a.status === "pending" && (
        <div className="mt-3 flex flex-wrap items-center gap-2">
          <div className="w-72"><Input placeholder="Comment (required to deny)" value={comment} maxLength={1000} onChange={(e) => setComment(e.target.value)} /></div>
          <Select aria-label="Approval window" value={windowSeconds} onChange={(e) => setWindow(Number(e.target.value))}>
            {WINDOWS.map(([l, s]) => <option key={s} value={s}>{l}</option>)}
          </Select>
          <Button onClick={() => approve.mutate()} disabled={approve.isPending}>Approve</Button>
          <Button variant="danger" onClick={() => deny.mutate()} disabled={deny.isPending || !comment}>Deny</Button>
        </div>
      )}
      <ErrorText error={approve.error ?? deny.error} />
    </article>
  );
}
