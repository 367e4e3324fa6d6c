"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { api } from "@/components/api";
import { revealInvisible } from "@/lib/util/reveal-invisible";

interface ImpactItem { sessionId: string; user: string; chain: string[]; connection: string; protocol: string; what: string; reason: string }
interface Impact { ok: boolean; items: ImpactItem[]; previewed: number; elsewhere: number }

/**
 * Before saving: which live sessions — or shells, execs, forwards in them — the edited text
 * would end (they are decided again when a version is installed). Updated as the text settles.
 */
export function SaveImpact({ text, verb = "Saving", testId = "policy-impact" }: { text: string; verb?: string; testId?: string }) {
  const impact = useQuery({
    queryKey: ["policy-impact", text],
    queryFn: () => api<Impact>("/policies/impact", { method: "POST", body: { text } }),
    placeholderData: (prev) => prev,
    refetchInterval: 10_000, // sessions come and go while the text is edited
  });
  const d = impact.data;
  if (!d?.ok) return null;
  const elsewhere = d.elsewhere > 0 ? ` ${d.elsewhere} live session(s) in Gatehouse processes that did not answer are not previewed.` : "";
  if (d.items.length === 0) {
    return <p className="mt-2 text-xs text-slate-500" data-testid={testId}>{verb} ends none of the {d.previewed} live session(s).{elsewhere}</p>;
  }
  return (
    <div className="mt-2 rounded border border-amber-200 bg-amber-50 p-2 text-xs text-amber-900" data-testid={testId}>
      <p className="font-medium">{verb} ends {d.items.length} live {d.items.length === 1 ? "thing" : "things"} policy would no longer allow:{elsewhere}</p>
      <ul className="mt-1 max-h-40 space-y-0.5 overflow-auto">
        {d.items.map((i, n) => (
          <li key={n}>
            <Link className="underline" href={`/sessions/${i.sessionId}`}>{revealInvisible(i.chain.join(" → ") || i.user)}</Link> on {revealInvisible(i.connection)} ({i.protocol}): <span className="font-mono">{revealInvisible(i.what)}</span> — {revealInvisible(i.reason)}
          </li>
        ))}
      </ul>
    </div>
  );
}
