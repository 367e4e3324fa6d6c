"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { api } from "@/components/api";
import { CedarEditor } from "@/components/policy/cedar-editor";
import { Badge, Button, Card, ErrorText, Input, PageHeader } from "@/components/ui";
import { SaveImpact } from "./impact";
import { Simulator } from "./simulator";
import { Versions } from "./versions";

interface Problem { severity: string; message: string; line?: number; column?: number; policy?: string }
interface Validation { ok: boolean; errors: Problem[]; warnings: Problem[]; policies: { id: string; effect: string }[] }

export function PoliciesClient(props: { initialText: string; initialVersion: number; canWrite: boolean; connections: string[]; me: string }) {
  const qc = useQueryClient();
  const [text, setText] = useState(props.initialText);
  const [comment, setComment] = useState("");
  const [debounced, setDebounced] = useState(text);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(text), 300);
    return () => clearTimeout(t);
  }, [text]);
  const validation = useQuery({
    queryKey: ["policy-validate", debounced],
    queryFn: () => api<Validation>("/policies/validate", { method: "POST", body: { text: debounced } }),
    placeholderData: (prev) => prev,
  });
  const current = useQuery({ queryKey: ["policy-current"], queryFn: () => api<{ policy: { version: number; text: string } | null; loadedVersion: string | null }>("/policies") });
  const save = useMutation({
    mutationFn: () => api<{ version: number }>("/policies", { method: "PUT", body: { text, comment } }),
    onSuccess: () => {
      setComment("");
      void qc.invalidateQueries({ queryKey: ["policy-current"] });
      void qc.invalidateQueries({ queryKey: ["policy-versions"] });
    },
  });
  const errorLines = useMemo(() => new Set((validation.data?.errors ?? []).map((e) => e.line).filter((l): l is number => !!l)), [validation.data]);
  const version = current.data?.policy?.version ?? props.initialVersion;
  const dirty = text !== (current.data?.policy?.text ?? props.initialText);
  const v = validation.data;

  return (
    <div className="space-y-5">
      <PageHeader
        title="Policies"
        description={'Cedar policies decide every connection and every statement. @hold("group") holds for approval, @approvals("2") asks for two, @mask("set") masks results, @reason("…") explains a forbid. Anything not permitted is denied.'}
        actions={<Badge tone="blue">in force: v{version}</Badge>}
      />
      <div className="grid grid-cols-1 gap-5 xl:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <Card
          title="Policy set"
          actions={
            <span data-testid="policy-validation" className={v?.ok ? "text-xs text-emerald-700" : "text-xs text-red-700"}>
              {validation.isFetching && !v ? "checking…" : v?.ok ? `valid · ${v.policies.length} policies` : `${v?.errors.length ?? 0} error(s)`}
            </span>
          }
        >
          <CedarEditor value={text} onChange={setText} errorLines={errorLines} readOnly={!props.canWrite} />
          {v && (v.errors.length > 0 || v.warnings.length > 0) && (
            <ul className="mt-3 max-h-40 space-y-1 overflow-auto text-xs" data-testid="policy-problems">
              {[...v.errors, ...v.warnings].map((e, i) => (
                <li key={i} className={e.severity === "error" ? "text-red-700" : "text-amber-700"}>
                  {e.line ? `line ${e.line}${e.column ? `:${e.column}` : ""}: ` : ""}
                  {e.message}
                </li>
              ))}
            </ul>
          )}
          {props.canWrite && dirty && v?.ok && <SaveImpact text={debounced} />}
          {props.canWrite && (
            <div className="mt-3 flex items-center gap-2">
              <Input placeholder="What changed and why" value={comment} onChange={(e) => setComment(e.target.value)} />
              <Button disabled={!dirty || !v?.ok || save.isPending} onClick={() => save.mutate()}>
                Save as v{version + 1}
              </Button>
            </div>
          )}
          <ErrorText error={save.error} />
        </Card>
        <div className="space-y-5">
          <Simulator connections={props.connections} me={props.me} />
          <Versions canWrite={props.canWrite} onLoad={setText} />
        </div>
      </div>
    </div>
  );
}
