"use client";
import "@xterm/xterm/css/xterm.css";
import { useEffect, useRef, useState } from "react";
import { Badge } from "@/components/ui";
import { CountClamp } from "@/lib/terminal/count-clamp";
import { LiveSessionView, type LiveViewState } from "./live-session";
import { clampSize, TERMINAL_OPTIONS } from "./xterm-options";

/**
 * Watches one terminal channel of a session as it happens: the current screen first (the tail),
 * then every output event as it is recorded. Read-only: the viewer's keystrokes go nowhere, and
 * the terminal's answers to queries in the output (cursor position, device attributes) are
 * dropped, so a recording cannot make the viewer type.
 */
export function LiveTerminal({ sessionId, ch = 0 }: { sessionId: string; ch?: number }) {
  const host = useRef<HTMLDivElement>(null);
  const [view, setView] = useState<LiveViewState | null>(null);

  useEffect(() => {
    let disposed = false;
    let dispose = () => {};
    void (async () => {
      const { Terminal } = await import("@xterm/xterm");
      if (disposed || !host.current) return;
      const term = new Terminal({ ...TERMINAL_OPTIONS, disableStdin: true, cursorBlink: false, cursorInactiveStyle: "outline" });
      term.open(host.current);
      // The size the next write will be parsed at: resizes are queued behind earlier writes.
      let size = { cols: term.cols, rows: term.rows };
      // A recording's huge counts (CSI 2147483647 L) would hang this tab in xterm.js.
      const clamp = new CountClamp(() => size);
      const live = new LiveSessionView({
        sessionId,
        ch,
        onState: (s) => !disposed && setView(s),
        sink: {
          write: (data, onParsed) => term.write(typeof data === "string" ? clamp.text(data) : clamp.bytes(data), onParsed),
          // xterm.js parses writes asynchronously: resize in order, after what was written before.
          resize: (cols, rows) => {
            const s = clampSize(cols, rows);
            size = s;
            term.write("", () => term.resize(s.cols, s.rows));
          },
        },
      });
      void live.start();
      dispose = () => {
        live.stop();
        term.dispose();
      };
    })();
    return () => {
      disposed = true;
      dispose();
    };
  }, [sessionId, ch]);

  return (
    <div className="space-y-2" data-testid="live-terminal" data-phase={view?.phase ?? "loading"} data-seq={view?.lastSeq ?? 0} data-delay-ms={view?.delayMs ?? ""}>
      <div className="flex flex-wrap items-center gap-3 text-xs text-slate-600">
        <StatusBadge view={view} />
        {view?.phase === "live" && (
          <span data-testid="live-delay" title="time from the gateway recording the output to it being on this screen">
            delay {view.delayMs === null ? "–" : `${view.delayMs} ms`}
          </span>
        )}
        {view?.size && <span>{view.size.cols}×{view.size.rows}</span>}
        <span>channel {ch}</span>
        {view?.channelExit && <span>channel exited{view.channelExit.code !== undefined ? ` (status ${view.channelExit.code})` : view.channelExit.signal ? ` (${view.channelExit.signal})` : ""}</span>}
        {view?.capped && <span className="text-amber-700">showing the last 1 MiB of output; the screen completes on the next redraw</span>}
        {view?.gap && <span className="text-amber-700">some output could not be loaded live; the recording has it</span>}
        {view?.phase === "live" && !view.connected && <span className="text-amber-700">reconnecting…</span>}
      </div>
      {view?.phase === "error" && <p role="alert" className="text-sm text-red-700">{view.error}</p>}
      <div className="max-w-full overflow-auto rounded-md bg-[#0b1020] p-2">
        <div ref={host} className="inline-block" />
      </div>
    </div>
  );
}

function StatusBadge({ view }: { view: LiveViewState | null }) {
  if (!view || view.phase === "loading") return <Badge>loading…</Badge>;
  if (view.phase === "live") {
    return (
      <span data-testid="live-badge">
        <Badge tone="green">● live</Badge>
      </span>
    );
  }
  if (view.phase === "ended") {
    return (
      <span data-testid="ended-badge">
        <Badge tone={view.status === "killed" ? "red" : "slate"}>session {view.status ?? "ended"}</Badge>
        {view.endReason && <span className="ml-2">{view.endReason}</span>}
      </span>
    );
  }
  return <Badge tone="red">error</Badge>;
}
