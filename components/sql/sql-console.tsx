"use client";
import Link from "next/link";
import { useEffect, useRef, useState } from "react";
import { Badge, Button } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";
import type { ResultSet } from "@/lib/sql-console/console";
import { SCHEMA_SQL, schemaOf, type LoadedSchema } from "./schema";
import { SchemaList } from "./schema-list";
import { SqlEditor } from "./sql-editor";
import { useSqlSocket, type Phase } from "./use-sql-socket";

/**
 * SQL in the browser, through the same gateway path as psql (policy per statement, holds,
 * masking, recording; origin web-console). Statements run in order on one connection, so a
 * transaction carries from one to the next. Ctrl+Enter (⌘+Enter) runs the editor's text.
 * "Load schema" runs a catalog query the same way (shown, decided, recorded like any other) and
 * the editor then completes its schemas, tables and columns.
 */
type Entry = {
  id: number;
  sql: string;
  status: "running" | "held" | "done" | "error";
  approvalId?: number;
  url?: string;
  sets?: ResultSet[];
  durationMs?: number;
  error?: { code: string | null; message: string };
  notices: string[];
};

export function SqlConsole({ connection }: { connection: string }) {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [gaps, setGaps] = useState(0);
  const [text, setText] = useState("select now()");
  const [generation, setGeneration] = useState(0);
  const nextId = useRef(1);
  const [schema, setSchema] = useState<LoadedSchema | null>(null);
  const schemaRequest = useRef<number | null>(null);
  const update = (id: number | null, change: (e: Entry) => Entry) => setEntries((all) => all.map((e) => (e.id === id ? change(e) : e)));
  const { phase, send } = useSqlSocket(connection, generation, (msg) => {
    if (msg.type === "held") update(msg.id, (e) => ({ ...e, status: "held", approvalId: msg.approvalId, url: msg.url }));
    else if (msg.type === "notice") update(msg.id, (e) => ({ ...e, notices: [...e.notices, msg.message] }));
    else if (msg.type === "result") {
      update(msg.id, (e) => ({ ...e, status: "done", sets: msg.sets, durationMs: msg.durationMs }));
      if (msg.id === schemaRequest.current) setSchema(schemaOf(msg.sets[0]));
    }
    else if (msg.type === "error") update(msg.id, (e) => ({ ...e, status: "error", error: { code: msg.code, message: msg.message } }));
    else if (msg.type === "gap") setGaps((n) => n + msg.lost);
  });

  // A statement still running when the session ended will not answer any more.
  const closedReason = phase.phase === "closed" ? phase.reason : null;
  useEffect(() => {
    if (closedReason !== null) setEntries((all) => all.map((e) => (e.status === "running" || e.status === "held" ? { ...e, status: "error", error: { code: null, message: `the session ended: ${closedReason}` } } : e)));
  }, [closedReason]);

  const ready = phase.phase === "ready";
  const busy = entries.some((e) => e.status === "running" || e.status === "held");
  const submit = (sql: string) => {
    if (!ready || busy || !sql.trim()) return null;
    const id = nextId.current++;
    setEntries((all) => [{ id, sql, status: "running", notices: [] }, ...all]);
    send({ type: "run", id, sql });
    return id;
  };
  const run = () => void submit(text);

  return (
    <div className="space-y-3" data-testid="sql-console" data-phase={phase.phase}>
      <div className="flex flex-wrap items-center gap-3 text-sm">
        <span className="font-medium">{connection}</span>
        <PhaseBadge phase={phase} />
        {phase.phase === "ready" && phase.sessionId && <Link className="text-xs text-brand underline" href={`/sessions/${phase.sessionId}`} target="_blank">recording</Link>}
        <span className="ml-auto text-xs text-slate-500">Ctrl+Enter runs · statements share one connection (transactions carry over)</span>
        {phase.phase === "closed" && <Button variant="secondary" onClick={() => setGeneration((g) => g + 1)}>New session</Button>}
      </div>
      {phase.phase === "closed" && <div role="alert" className="rounded-md border border-slate-300 bg-slate-50 px-3 py-2 text-sm" data-testid="sql-closed">Session ended: {phase.reason}</div>}
      {phase.phase === "reconnecting" && <Reconnecting deadline={phase.deadline} />}
      {gaps > 0 && <p role="status" className="text-xs text-amber-900">{gaps} message{gaps === 1 ? "" : "s"} from the server could not be delivered after the reconnect (too much came meanwhile); their statements are in the recording.</p>}
      <div className="flex gap-3">
        <div className="min-w-0 flex-1">
          <SqlEditor value={text} onChange={setText} onRun={(t) => void submit(t)} schema={schema} />
        </div>
        {schema && <SchemaList schema={schema} onPick={(name) => setText((t) => (t.endsWith(" ") || !t ? t : `${t} `) + name)} />}
      </div>
      <div className="flex gap-2">
        <Button onClick={run} disabled={!ready || busy}>Run</Button>
        <Button variant="secondary" onClick={() => send({ type: "cancel" })} disabled={!busy}>Cancel</Button>
        <Button variant="secondary" onClick={() => (schemaRequest.current = submit(SCHEMA_SQL))} disabled={!ready || busy} title="Runs a catalog query through the gateway; the editor then completes table and column names">
          {schema ? "Reload schema" : "Load schema"}
        </Button>
      </div>
      <ol className="space-y-3" data-testid="sql-results">
        {entries.map((e) => <EntryView key={e.id} entry={e} onReuse={() => setText(e.sql)} />)}
      </ol>
    </div>
  );
}

function EntryView({ entry: e, onReuse }: { entry: Entry; onReuse: () => void }) {
  const [tone, label] = ({ running: ["blue", "running…"], held: ["amber", "held for approval"], done: ["green", "done"], error: ["red", "error"] } as const)[e.status];
  return (
    <li className="rounded-md border border-slate-200 bg-white p-3" data-testid="sql-entry" data-status={e.status}>
      <div className="flex items-start gap-2">
        <button type="button" className="flex-1 whitespace-pre-wrap text-left font-mono text-xs text-slate-700 hover:underline" title="Edit again" onClick={onReuse}>{revealInvisible(e.sql)}</button>
        <Badge tone={tone}>{label}</Badge>
        {e.durationMs !== undefined && <span className="text-xs text-slate-500">{e.durationMs} ms</span>}
      </div>
      {e.status === "held" && (
        <p role="status" className="mt-2 text-sm text-amber-900" data-testid="sql-held">
          Held for approval #{e.approvalId}. <a className="underline" href={e.url} target="_blank" rel="noopener noreferrer">Open the approval request</a>; it runs as soon as it is approved.
        </p>
      )}
      {e.notices.map((n, i) => <p key={i} className="mt-1 text-xs text-slate-600">NOTICE: {revealInvisible(n)}</p>)}
      {e.error && <p role="alert" className="mt-2 text-sm text-red-800">{e.error.code ? `${e.error.code}: ` : ""}{revealInvisible(e.error.message)}</p>}
      {e.sets?.map((s, i) => <SetView key={i} set={s} />)}
    </li>
  );
}

function SetView({ set }: { set: ResultSet }) {
  return (
    <div className="mt-2">
      <p className="text-xs text-slate-500">{set.command} · {set.rowCount} row{set.rowCount === 1 ? "" : "s"}{set.truncated ? ` (showing the first ${set.rows.length})` : ""}</p>
      {set.columns.length > 0 && (
        <div className="mt-1 max-h-96 overflow-auto">
          <table className="min-w-full text-left font-mono text-xs">
            <thead className="sticky top-0 bg-slate-100">
              <tr>{set.columns.map((c, i) => <th key={i} className="px-2 py-1 font-semibold">{revealInvisible(c)}</th>)}</tr>
            </thead>
            <tbody>
              {set.rows.map((r, i) => (
                <tr key={i} className="border-t border-slate-100">
                  {r.map((v, j) => <td key={j} className="whitespace-pre px-2 py-1">{v === null ? <span className="text-slate-400">NULL</span> : revealInvisible(v)}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function Reconnecting({ deadline }: { deadline: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return (
    <div role="status" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="sql-reconnecting">
      Connection lost — reconnecting… ({Math.max(0, Math.ceil((deadline - now) / 1000))} s left before the session and its transaction are closed)
    </div>
  );
}

function PhaseBadge({ phase }: { phase: Phase }) {
  if (phase.phase === "reconnecting") return <Badge tone="amber">reconnecting…</Badge>;
  if (phase.phase === "ready") return <Badge tone="green">{phase.sessionId ? "connected" : "ready: the session opens with the first statement"}</Badge>;
  if (phase.phase === "closed") return <Badge>closed</Badge>;
  return <Badge>connecting…</Badge>;
}
