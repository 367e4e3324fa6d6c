"use client";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api } from "@/components/api";
import { Button, Card, ErrorText, Field, Input, Select, Textarea } from "@/components/ui";
import type { DetectorInfo } from "@/lib/gateway/masking/catalog";

export interface RuleRow { id: string; name: string; enabled: boolean; ruleSet: string; definition: Record<string, unknown>; updatedAt: string }
interface Draft { name: string; ruleSet: string; enabled: boolean; detectors: string[]; columns: string; style: string; keepLast: number; regexes: string; dictionary: string; appliesTo: string[]; blockInference: boolean }

const CHANNELS = ["sql", "terminal", "http", "mcp"];
const lines = (s: string) => s.split("\n").map((x) => x.trim()).filter(Boolean);

function toBody(d: Draft) {
  return {
    name: d.name,
    ruleSet: d.ruleSet,
    enabled: d.enabled,
    detectors: d.detectors,
    columns: d.columns.split(",").map((s) => s.trim()).filter(Boolean),
    style: d.style,
    ...(d.style === "partial" ? { keepLast: d.keepLast } : {}),
    ...(lines(d.regexes).length ? { regexes: lines(d.regexes) } : {}),
    ...(lines(d.dictionary).length ? { dictionary: lines(d.dictionary) } : {}),
    ...(d.appliesTo.length && d.appliesTo.length < CHANNELS.length ? { appliesTo: d.appliesTo } : {}),
    ...(d.blockInference ? { blockInference: true } : {}),
  };
}

/** Create or edit one rule, with a live preview of this (unsaved) rule on sample text. */
export function RuleEditor({ rule, detectors, onDone }: { rule: RuleRow | null; detectors: DetectorInfo[]; onDone: () => void }) {
  const def = (rule?.definition ?? {}) as { detectors?: string[]; columns?: string[]; style?: string; keepLast?: number; regexes?: string[]; dictionary?: string[]; appliesTo?: string[]; blockInference?: boolean };
  const [d, setD] = useState<Draft>({
    name: rule?.name ?? "",
    ruleSet: rule?.ruleSet ?? "default",
    enabled: rule?.enabled ?? true,
    detectors: def.detectors ?? [],
    columns: (def.columns ?? []).join(", "),
    style: def.style ?? "redact",
    keepLast: def.keepLast ?? 4,
    regexes: (def.regexes ?? []).join("\n"),
    dictionary: (def.dictionary ?? []).join("\n"),
    appliesTo: def.appliesTo ?? CHANNELS,
    blockInference: def.blockInference ?? false,
  });
  const [sample, setSample] = useState("Contact ada@example.com or 555-867-5309; SSN 123-45-6789; card 4111-1111-1111-1111");
  const [column, setColumn] = useState("");
  const set = (patch: Partial<Draft>) => setD((x) => ({ ...x, ...patch }));
  const [preview, setPreview] = useState({ d, sample, column });
  useEffect(() => {
    const t = setTimeout(() => setPreview({ d, sample, column }), 250);
    return () => clearTimeout(t);
  }, [d, sample, column]);
  const live = useQuery({
    queryKey: ["masking-preview", preview],
    queryFn: () => api<{ masked: string | null }>("/masking/test", { method: "POST", body: { text: preview.sample, rule: { ...toBody(preview.d), name: preview.d.name || "preview" }, column: preview.column || undefined } }),
    retry: false,
  });
  const save = useMutation({
    mutationFn: () => (rule ? api(`/masking/${rule.id}`, { method: "PUT", body: toBody(d) }) : api("/masking", { method: "POST", body: toBody(d) })),
    onSuccess: onDone,
  });
  return (
    <Card title={rule ? `Edit ${rule.name}` : "New masking rule"}>
      <div className="grid grid-cols-2 gap-4">
        <div className="space-y-3">
          <div className="grid grid-cols-2 gap-3">
            <Field label="Name"><Input value={d.name} onChange={(e) => set({ name: e.target.value })} /></Field>
            <Field label="Rule set"><Input value={d.ruleSet} onChange={(e) => set({ ruleSet: e.target.value })} /></Field>
          </div>
          <Field label="Detectors">
            <div className="grid grid-cols-2 gap-1 text-sm">
              {detectors.map((det) => (
                <label key={det.name} className="flex items-center gap-1.5" title={det.description}>
                  <input type="checkbox" checked={d.detectors.includes(det.name)} onChange={(e) => set({ detectors: e.target.checked ? [...d.detectors, det.name] : d.detectors.filter((x) => x !== det.name) })} />
                  {det.label}
                </label>
              ))}
            </div>
          </Field>
          <Field label="Columns" hint="Globs: customers.email, *.ssn, prod-db/public/users/*"><Input value={d.columns} onChange={(e) => set({ columns: e.target.value })} /></Field>
          <label className="flex items-center gap-2 text-sm" title="A column masked in the output can still be read one question at a time: WHERE ssn LIKE '123-%', ORDER BY ssn, length(ssn), a join on it.">
            <input type="checkbox" checked={d.blockInference} onChange={(e) => set({ blockInference: e.target.checked })} /> Block inference (SQL): refuse statements that filter, sort, group, join or compute on these columns, not just return them
          </label>
          <div className="grid grid-cols-2 gap-3">
            <Field label="Style">
              <Select value={d.style} onChange={(e) => set({ style: e.target.value })} className="w-full">
                <option value="redact">redact</option><option value="partial">partial (keep last N)</option><option value="hash">hash (deterministic)</option><option value="null">null</option>
              </Select>
            </Field>
            {d.style === "partial" && <Field label="Keep last"><Input type="number" min={0} max={64} value={d.keepLast} onChange={(e) => set({ keepLast: Number(e.target.value) })} /></Field>}
          </div>
          <Field label="Custom regexes" hint="One per line"><Textarea rows={2} value={d.regexes} onChange={(e) => set({ regexes: e.target.value })} /></Field>
          <Field label="Dictionary" hint="Words or phrases, one per line"><Textarea rows={2} value={d.dictionary} onChange={(e) => set({ dictionary: e.target.value })} /></Field>
          <Field label="Applies to">
            <div className="flex gap-3 text-sm">
              {CHANNELS.map((c) => (
                <label key={c} className="flex items-center gap-1"><input type="checkbox" checked={d.appliesTo.includes(c)} onChange={(e) => set({ appliesTo: e.target.checked ? [...d.appliesTo, c] : d.appliesTo.filter((x) => x !== c) })} />{c}</label>
              ))}
            </div>
          </Field>
          <label className="flex items-center gap-2 text-sm"><input type="checkbox" checked={d.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> enabled</label>
        </div>
        <div className="space-y-3">
          <Field label="Sample text"><Textarea rows={4} value={sample} onChange={(e) => setSample(e.target.value)} /></Field>
          <Field label="As a value of column (optional)" hint="table.column, so column rules apply"><Input value={column} onChange={(e) => setColumn(e.target.value)} /></Field>
          <Field label="Result">
            <pre data-testid="rule-preview" className="min-h-24 whitespace-pre-wrap rounded-md bg-slate-900 p-3 font-mono text-xs text-emerald-200">{live.error ? "" : (live.data?.masked ?? "NULL")}</pre>
          </Field>
          <ErrorText error={live.error} />
        </div>
      </div>
      <div className="mt-4 flex gap-2">
        <Button onClick={() => save.mutate()} disabled={save.isPending || !d.name}>Save rule</Button>
        <Button variant="secondary" onClick={onDone}>Cancel</Button>
      </div>
      <ErrorText error={save.error} />
    </Card>
  );
}
