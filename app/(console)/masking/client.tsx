"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "@/components/api";
import { Badge, Button, Card, ErrorText, PageHeader, Table } from "@/components/ui";
import type { DetectorInfo } from "@/lib/gateway/masking/catalog";
import { RuleEditor, type RuleRow } from "./rule-editor";
import { TestPane } from "./test-pane";
import { revealInvisible } from "@/lib/util/reveal-invisible";

export function MaskingClient({ initial, detectors, canWrite }: { initial: RuleRow[]; detectors: DetectorInfo[]; canWrite: boolean }) {
  const qc = useQueryClient();
  const rules = useQuery({ queryKey: ["masking"], queryFn: () => api<{ rules: RuleRow[] }>("/masking").then((r) => r.rules), initialData: initial });
  const [editing, setEditing] = useState<RuleRow | "new" | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ["masking"] });
  const remove = useMutation({ mutationFn: (id: string) => api(`/masking/${id}`, { method: "DELETE" }), onSuccess: refresh });
  return (
    <div className="space-y-5">
      <PageHeader
        title="Masking"
        description='Rules mask sensitive values inline, before any client sees them. A policy names rule sets with @mask("pii"); "*" means every enabled rule.'
        actions={canWrite && <Button onClick={() => setEditing("new")}>New rule</Button>}
      />
      {editing && (
        <RuleEditor
          rule={editing === "new" ? null : editing}
          detectors={detectors}
          onDone={() => {
            setEditing(null);
            void refresh();
          }}
        />
      )}
      <Card>
        <Table head={["Rule", "Set", "Masks", "Style", "Status", ""]}>
          {rules.data.map((r) => {
            const d = r.definition as { detectors?: string[]; columns?: string[]; style?: string; regexes?: string[]; dictionary?: string[]; blockInference?: boolean };
            return (
              <tr key={r.id} data-testid={`rule-${r.name}`}>
                <td className="px-2 py-2 font-medium">{revealInvisible(r.name)}</td>
                <td className="px-2 py-2"><Badge tone="blue">{r.ruleSet}</Badge></td>
                <td className="px-2 py-2 text-xs">
                  {[...(d.detectors ?? []), ...(d.columns ?? []).map((c) => `column ${c}`), ...(d.regexes ?? []).map(() => "regex"), ...(d.dictionary?.length ? ["dictionary"] : [])].join(", ")}
                  {d.blockInference && <> <Badge tone="amber">blocks inference</Badge></>}
                </td>
                <td className="px-2 py-2 text-xs">{d.style}</td>
                <td className="px-2 py-2">{r.enabled ? <Badge tone="green">on</Badge> : <Badge>off</Badge>}</td>
                <td className="px-2 py-2 text-right">
                  {canWrite && (
                    <>
                      <Button variant="ghost" onClick={() => setEditing(r)}>Edit</Button>
                      <Button variant="ghost" className="text-red-700" onClick={() => confirm(`Delete rule ${r.name}?`) && remove.mutate(r.id)}>Delete</Button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </Table>
        <ErrorText error={remove.error} />
      </Card>
      <TestPane />
    </div>
  );
}
