"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "@/components/api";
import { Button, Card, ErrorText } from "@/components/ui";
import { SaveImpact } from "./impact";
import { revealInvisible } from "@/lib/util/reveal-invisible";

interface VersionRow { version: number; comment: string; createdAt: string; authorEmail: string | null }
interface VersionDetail { version: { version: number; text: string }; diff: { op: string; text: string }[] }

export function Versions({ canWrite, onLoad }: { canWrite: boolean; onLoad: (text: string) => void }) {
  const qc = useQueryClient();
  const versions = useQuery({ queryKey: ["policy-versions"], queryFn: () => api<{ versions: VersionRow[] }>("/policies/versions").then((r) => r.versions) });
  const [open, setOpen] = useState<number | null>(null);
  const detail = useQuery({ queryKey: ["policy-version", open], queryFn: () => api<VersionDetail>(`/policies/versions/${open}`), enabled: open !== null });
  const rollback = useMutation({
    mutationFn: (version: number) => api<{ version: number }>("/policies/rollback", { method: "POST", body: { version } }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["policy-versions"] });
      void qc.invalidateQueries({ queryKey: ["policy-current"] });
    },
  });
  return (
    <Card title="History">
      <ul className="max-h-72 divide-y divide-slate-100 overflow-auto text-sm">
        {(versions.data ?? []).map((v) => (
          <li key={v.version} className="py-1.5">
            <div className="flex items-center justify-between gap-2">
              <button className="text-left" onClick={() => setOpen(open === v.version ? null : v.version)}>
                <b>v{v.version}</b> <span className="text-xs text-slate-500">{new Date(v.createdAt).toLocaleString()} · {v.authorEmail ?? "system"}</span>
                <div className="text-xs text-slate-600">{revealInvisible(v.comment)}</div>
              </button>
              {canWrite && v.version !== versions.data?.[0]?.version && (
                <Button variant="secondary" onClick={() => rollback.mutate(v.version)}>Roll back</Button>
              )}
            </div>
            {open === v.version && detail.data && (
              <div className="mt-2">
                <pre className="max-h-60 overflow-auto rounded bg-slate-50 p-2 font-mono text-[11px] leading-4">
                  {detail.data.diff.map((d, i) => (
                    <div key={i} className={d.op === "+" ? "bg-emerald-50 text-emerald-800" : d.op === "-" ? "bg-red-50 text-red-800" : "text-slate-500"}>
                      {d.op} {revealInvisible(d.text)}
                    </div>
                  ))}
                </pre>
                <button className="mt-1 text-xs text-brand underline" onClick={() => onLoad(detail.data!.version.text)}>Load this version into the editor</button>
                {canWrite && v.version !== versions.data?.[0]?.version && <SaveImpact text={detail.data.version.text} verb="Rolling back to it" testId="rollback-impact" />}
              </div>
            )}
          </li>
        ))}
      </ul>
      <ErrorText error={rollback.error} />
    </Card>
  );
}
