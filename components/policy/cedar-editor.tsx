"use client";
import { useRef } from "react";
import { tokenizeCedar, type TokenKind } from "./cedar-tokens";

const COLORS: Record<TokenKind, string> = {
  keyword: "text-fuchsia-700 font-semibold",
  scope: "text-sky-700",
  string: "text-emerald-700",
  comment: "text-slate-400 italic",
  annotation: "text-amber-700 font-semibold",
  entity: "text-indigo-700",
  number: "text-orange-700",
  operator: "text-slate-600",
  text: "text-slate-900",
};

/**
 * A textarea over a highlighted <pre>: the browser keeps native editing, selection, undo and
 * paste; we only paint colours underneath. Lines with errors get a red gutter mark.
 */
export function CedarEditor({ value, onChange, errorLines, readOnly }: { value: string; onChange: (v: string) => void; errorLines: Set<number>; readOnly?: boolean }) {
  const pre = useRef<HTMLPreElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const lines = value.split("\n").length;
  const shared = "m-0 whitespace-pre p-3 font-mono text-[13px] leading-5";
  return (
    <div className="relative flex h-[28rem] overflow-hidden rounded-md border border-slate-300 bg-white">
      <div ref={gutter} aria-hidden className="w-10 shrink-0 select-none overflow-hidden border-r border-slate-200 bg-slate-50 py-3 text-right font-mono text-[11px] leading-5 text-slate-400">
        {Array.from({ length: lines }, (_, i) => (
          <div key={i} className={errorLines.has(i + 1) ? "bg-red-100 pr-1 text-red-700" : "pr-1"}>{i + 1}</div>
        ))}
      </div>
      <div className="relative flex-1">
        <pre ref={pre} aria-hidden className={`${shared} pointer-events-none absolute inset-0 overflow-hidden`}>
          {tokenizeCedar(value).map((t, i) => <span key={i} className={COLORS[t.kind]}>{t.text}</span>)}
          {"\n"}
        </pre>
        <textarea
          aria-label="Cedar policies"
          spellCheck={false}
          readOnly={readOnly}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          onScroll={(e) => {
            pre.current!.scrollTop = e.currentTarget.scrollTop;
            pre.current!.scrollLeft = e.currentTarget.scrollLeft;
            gutter.current!.scrollTop = e.currentTarget.scrollTop;
          }}
          className={`${shared} absolute inset-0 h-full w-full resize-none overflow-auto bg-transparent text-transparent caret-slate-900 outline-none selection:bg-sky-200/60`}
        />
      </div>
    </div>
  );
}
