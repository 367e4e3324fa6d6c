"use client";
import "@xterm/xterm/css/xterm.css";
import type { Terminal } from "@xterm/xterm";
import Link from "next/link";
import { useEffect, useRef, useState } from "react";
import { Badge, Button } from "@/components/ui";
import { CountClamp } from "@/lib/terminal/count-clamp";
import { TerminalSocket, type TerminalSocketState } from "./terminal-socket";
import { TERMINAL_OPTIONS } from "./xterm-options";

/**
 * An SSH shell in the browser, through the same gateway path as `ssh` (policy, holds, masking,
 * recording; origin web-console). Fills its container; resizes the remote pty when the container
 * changes. Copy: select with the mouse, then Ctrl+Shift+C (or the browser's Copy). Paste:
 * Ctrl+Shift+V or the browser's Paste. Ctrl+C stays an interrupt for the remote program.
 */
export function BrowserTerminal({ connection }: { connection: string }) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<TerminalSocketState>({ phase: "connecting" });
  const [generation, setGeneration] = useState(0);
  const [now, setNow] = useState(() => Date.now());
  const [lostBytes, setLostBytes] = useState(0);
  const [size, setSize] = useState<{ cols: number; rows: number } | null>(null);

  useEffect(() => {
    let disposed = false;
    let cleanup = () => {};
    setState({ phase: "connecting" });
    setLostBytes(0);
    void (async () => {
      const [{ Terminal }, { FitAddon }] = await Promise.all([import("@xterm/xterm"), import("@xterm/addon-fit")]);
      if (disposed || !host.current) return;
      const term = new Terminal({ ...TERMINAL_OPTIONS, fontSize: 14, cursorBlink: true, scrollback: 10_000 });
      const fit = new FitAddon();
      term.loadAddon(fit);
      term.open(host.current);
      fit.fit();
      setSize({ cols: term.cols, rows: term.rows });
      // The remote host's huge counts (CSI 2147483647 L) would hang this tab in xterm.js.
      const clamp = new CountClamp(() => ({ cols: term.cols, rows: term.rows }));
      const sock = new TerminalSocket({
        url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/terminal/${encodeURIComponent(connection)}`,
        size: () => ({ cols: term.cols, rows: term.rows }),
        onOutput: (d) => term.write(clamp.bytes(d)),
        onState: (s) => !disposed && setState(s),
        onGap: (n) => !disposed && setLostBytes((b) => b + n),
      });
      const subs = [
        term.onData((d) => sock.sendText(d)),
        term.onBinary((d) => sock.sendBinaryString(d)),
        term.onResize(({ cols, rows }) => {
          sock.resize(cols, rows);
          if (!disposed) setSize({ cols, rows });
        }),
      ];
      term.attachCustomKeyEventHandler((e) => clipboardKeys(term, e));
      // Refit when the page layout changes; the resize reaches the remote pty through onResize.
      let frame = 0;
      const observer = new ResizeObserver(() => {
        cancelAnimationFrame(frame);
        frame = requestAnimationFrame(() => fit.fit());
      });
      observer.observe(host.current);
      const offline = () => sock.interrupt();
      const online = () => sock.retryNow();
      window.addEventListener("offline", offline);
      window.addEventListener("online", online);
      sock.connect();
      term.focus();
      cleanup = () => {
        window.removeEventListener("offline", offline);
        window.removeEventListener("online", online);
        observer.disconnect();
        cancelAnimationFrame(frame);
        subs.forEach((s) => s.dispose());
        sock.close();
        term.dispose();
      };
    })();
    return () => {
      disposed = true;
      cleanup();
    };
  }, [connection, generation]);

  // The reconnect countdown.
  useEffect(() => {
    if (state.phase !== "reconnecting") return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [state.phase]);

  const over = state.phase === "exited" || state.phase === "error";
  return (
    <div className="flex h-full min-h-0 flex-col gap-2" data-testid="browser-terminal" data-phase={state.phase} data-cols={size?.cols} data-rows={size?.rows}>
      <div className="flex flex-wrap items-center gap-3 text-sm">
        <span className="font-medium">{connection}</span>
        <StateBadge state={state} />
        {size && <span className="text-xs text-slate-500">{size.cols}×{size.rows}</span>}
        {"sessionId" in state && state.sessionId && (
          <Link className="text-xs text-brand underline" href={`/sessions/${state.sessionId}`} target="_blank">recording</Link>
        )}
        <span className="ml-auto text-xs text-slate-500">Copy: select, then Ctrl+Shift+C · Paste: Ctrl+Shift+V</span>
        {over && <Button variant="secondary" onClick={() => setGeneration((g) => g + 1)}>New session</Button>}
      </div>
      {state.phase === "held" && (
        <div role="status" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="terminal-held">
          Held for approval #{state.approvalId}.{" "}
          {state.url ? <a className="underline" href={state.url} target="_blank" rel="noopener noreferrer">Open the approval request</a> : "An approver must decide it in the console."}{" "}
          The session continues once it is approved.
        </div>
      )}
      {state.phase === "reconnecting" && (
        <div role="status" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="terminal-reconnecting">
          Connection lost — reconnecting… ({Math.max(0, Math.ceil((state.deadline - now) / 1000))} s left before the session is closed)
        </div>
      )}
      {lostBytes > 0 && (
        <div role="status" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900">
          {lostBytes} bytes of output were lost while disconnected (the recording has them); the screen is right again after the next redraw.
        </div>
      )}
      {state.phase === "exited" && (
        <div role="status" className="rounded-md border border-slate-300 bg-slate-50 px-3 py-2 text-sm" data-testid="terminal-exit">
          Session ended: {state.reason}{state.code !== null ? ` (exit status ${state.code})` : ""}
        </div>
      )}
      {state.phase === "error" && <div role="alert" className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800" data-testid="terminal-error">{state.message}</div>}
      <div className={`min-h-0 flex-1 rounded-md bg-[#0b1020] p-2 ${over ? "opacity-70" : ""}`}>
        <div ref={host} className="h-full w-full" />
      </div>
    </div>
  );
}

function StateBadge({ state }: { state: TerminalSocketState }) {
  const [tone, label] = ({
    connecting: ["slate", "connecting…"],
    ready: ["green", "connected"],
    held: ["amber", "held for approval"],
    reconnecting: ["amber", "reconnecting…"],
    exited: ["slate", "ended"],
    error: ["red", "error"],
  } as const)[state.phase];
  return <Badge tone={tone}>{label}</Badge>;
}

/**
 * Ctrl+Shift+C copies the selection (Ctrl+C must stay an interrupt); Ctrl+Shift+V is left to the
 * browser, whose paste event xterm.js turns into input (bracketed when the remote asks for it).
 */
function clipboardKeys(term: Terminal, e: KeyboardEvent): boolean {
  if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey || e.altKey || e.metaKey) return true;
  if (e.code === "KeyC") {
    e.preventDefault();
    const text = term.getSelection();
    if (text) void copyText(text);
    return false;
  }
  if (e.code === "KeyV") return false;
  return true;
}

async function copyText(text: string) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No async clipboard (plain http off loopback): the legacy path works from a key handler.
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    const focused = document.activeElement as HTMLElement | null;
    document.body.appendChild(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
    focused?.focus();
  }
}
