"use client";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api } from "@/components/api";
import { Card, Field, Input, Textarea } from "@/components/ui";

const SAMPLE = "Ada Lovelace <ada@example.com>, +1 555 010 9999, SSN 123-45-6789, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00";

/** Live result of the stored rules on sample text, as a client of a gateway would see it. */
export function TestPane() {
  const [text, setText] = useState(SAMPLE);
  const [sets, setSets] = useState("*");
  const [q, setQ] = useState({ text, sets });
  useEffect(() => {
    const t = setTimeout(() => setQ({ text, sets }), 250);
    return () => clearTimeout(t);
  }, [text, sets]);
  const result = useQuery({
    queryKey: ["masking-test", q],
    queryFn: () => api<{ masked: string | null; counts: { ruleId: string; matches: number }[] }>("/masking/test", { method: "POST", body: { text: q.text, ruleSets: q.sets.split(",").map((s) => s.trim()).filter(Boolean) } }),
    placeholderData: (p) => p,
  });
  return (
    <Card title="Try the stored rules">
      <div className="grid grid-cols-2 gap-4">
        <div className="space-y-2">
          <Field label="Rule sets" hint='Comma separated; "*" = all enabled rules'><Input value={sets} onChange={(e) => setSets(e.target.value)} /></Field>
          <Field label="Sample text"><Textarea rows={5} value={text} onChange={(e) => setText(e.target.value)} /></Field>
        </div>
        <Field label="What a client sees">
          <pre data-testid="masking-preview" className="min-h-32 whitespace-pre-wrap rounded-md bg-slate-900 p-3 font-mono text-xs text-emerald-200">{result.data?.masked ?? "NULL"}</pre>
          <span className="text-xs text-slate-500">{result.data ? `${result.data.counts.reduce((n, c) => n + c.matches, 0)} value(s) masked` : ""}</span>
        </Field>
      </div>
    </Card>
  );
}
