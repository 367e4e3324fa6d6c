"use client";
import "asciinema-player/dist/bundle/asciinema-player.css";
import { useEffect, useRef, useState } from "react";
import { IdleCompressor } from "@/lib/gateway/recorder/replay/idle";
import type { PlayerIndex } from "@/lib/gateway/recorder/replay/plan";

/**
 * asciinema-player over Gatehouse's segmented replay (app/api/v1/sessions/[id]/replay): the
 * player loads the index, then only the window it plays or seeks into plus the next one, so a
 * one-hour recording starts as fast as a short one. Everything from the recording goes through
 * the player's terminal emulator and is drawn as text: nothing in it is ever parsed as HTML, and
 * OSC sequences (title, clipboard, hyperlinks) have no effect outside the player.
 */
export interface ReplayControl {
  /** seek to a recording time (ms since the channel started) */
  seekToRecordingMs(ms: number): Promise<void>;
  play(): void;
}

interface PlayerLike {
  dispose(): void;
  getCurrentTime(): number;
  play(): Promise<unknown>;
  pause(): Promise<unknown>;
  seek(to: number): Promise<unknown>;
  addEventListener(name: string, fn: (...args: unknown[]) => void): void;
}

export function ReplayPlayer({
  sessionId,
  ch,
  speed,
  idleSeconds,
  onControl,
  onTime,
}: {
  sessionId: string;
  ch: number;
  speed: number;
  /** null: no idle-time compression */
  idleSeconds: number | null;
  onControl: (c: ReplayControl | null) => void;
  /** the current recording time (ms since the channel started), a few times a second */
  onTime: (ms: number) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [metrics, setMetrics] = useState<{ firstFrameMs?: number; seekMs?: number; seeks: number }>({ seeks: 0 });
  const [state, setState] = useState<"loading" | "paused" | "playing" | "ended">("loading");
  // Where to continue after the player is re-created for a new speed or idle limit.
  const resume = useRef<{ recordingMs: number; playing: boolean }>({ recordingMs: 0, playing: false });
  const callbacks = useRef({ onControl, onTime });
  callbacks.current = { onControl, onTime };

  useEffect(() => {
    let disposed = false;
    let player: PlayerLike | null = null;
    let blobUrl: string | null = null;
    let timer: ReturnType<typeof setInterval> | null = null;
    let playing = false;
    let compressor: IdleCompressor | null = null;
    const started = performance.now();
    setError(null);
    // The player's code (with its WebAssembly terminal) loads while the index is fetched.
    const playerModule = import("asciinema-player");
    void (async () => {
      const indexUrl = new URL(`/api/v1/sessions/${sessionId}/replay?${new URLSearchParams({ ch: String(ch), ...(idleSeconds ? { idle: String(idleSeconds) } : {}) })}`, location.href);
      const res = await fetch(indexUrl, { credentials: "same-origin" });
      if (!res.ok) throw new Error((await res.json().catch(() => null))?.error?.message ?? `replay unavailable (${res.status})`);
      const index = (await res.json()) as PlayerIndex;
      if (disposed || !host.current) return;
      const c = new IdleCompressor(index.gatehouse.gaps, index.gatehouse.idleMs);
      compressor = c;
      // The player resolves window URLs against the index's URL; it gets the index as a blob, so make them absolute.
      const forPlayer = { ...index, segments: index.segments.map((s) => ({ ...s, url: new URL(s.url, indexUrl).href })) };
      blobUrl = URL.createObjectURL(new Blob([JSON.stringify(forPlayer)], { type: "application/json" }));
      const AsciinemaPlayer = await playerModule;
      if (disposed || !host.current) return;
      const p = AsciinemaPlayer.create({ url: blobUrl, format: "segmented" } as never, host.current, {
        speed,
        preload: true,
        controls: true,
        fit: "width",
        terminalFontSize: "small",
        cols: index.term.cols,
        rows: index.term.rows,
      }) as unknown as PlayerLike;
      player = p;
      const track = (next: "paused" | "playing" | "ended") => () => {
        playing = next === "playing";
        if (!disposed) setState(next);
      };
      p.addEventListener("metadata", () => {
        if (disposed) return;
        setMetrics((m) => ({ ...m, firstFrameMs: Math.round(performance.now() - started) }));
        setState((s) => (s === "loading" ? "paused" : s));
      });
      p.addEventListener("play", track("playing"));
      p.addEventListener("playing", track("playing"));
      p.addEventListener("pause", track("paused"));
      p.addEventListener("ended", track("ended"));
      p.addEventListener("error", (e) => !disposed && setError(`the recording could not be played${e && typeof e === "object" && "message" in e ? `: ${String((e as { message: unknown }).message)}` : ""}`));
      const control: ReplayControl = {
        async seekToRecordingMs(ms) {
          const t0 = performance.now();
          resume.current = { recordingMs: ms, playing };
          await p.seek(Math.min(c.map(Math.max(0, ms)), c.map(index.gatehouse.durationMs)) / 1000);
          if (!disposed) setMetrics((m) => ({ ...m, seekMs: Math.round(performance.now() - t0), seeks: m.seeks + 1 }));
        },
        play: () => void p.play(),
      };
      const { recordingMs, playing: wasPlaying } = resume.current;
      if (recordingMs > 0) await control.seekToRecordingMs(recordingMs);
      if (wasPlaying) void p.play();
      callbacks.current.onControl(control);
      timer = setInterval(() => {
        const ms = c.unmap(Math.round(p.getCurrentTime() * 1000));
        resume.current = { recordingMs: ms, playing };
        callbacks.current.onTime(ms);
      }, 250);
    })().catch((err) => !disposed && setError((err as Error).message));
    return () => {
      disposed = true;
      if (timer) clearInterval(timer);
      // Where the next player (new speed or idle limit) continues.
      if (player && compressor) resume.current = { recordingMs: compressor.unmap(Math.round(player.getCurrentTime() * 1000)), playing };
      callbacks.current.onControl(null);
      player?.dispose();
      if (blobUrl) URL.revokeObjectURL(blobUrl);
    };
  }, [sessionId, ch, speed, idleSeconds]);

  return (
    <div data-testid="replay-player" data-state={state} data-first-frame-ms={metrics.firstFrameMs ?? ""} data-seek-ms={metrics.seekMs ?? ""} data-seeks={metrics.seeks}>
      {error && (
        <p role="alert" className="mb-2 text-sm text-red-700">
          {error}
        </p>
      )}
      <div ref={host} className="min-h-[12rem] overflow-hidden rounded-md bg-slate-900" />
    </div>
  );
}
