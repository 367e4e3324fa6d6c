import { execFile, execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * Drives an interactive program (ssh with a real pty, a shell, a TUI) the way a person at a
 * terminal would: a detached tmux session of a fixed size, keys sent in, the screen read back
 * with `capture-pane`. Each session runs on its own tmux server (`-L <socket>`), so parallel
 * tests neither share state nor see each other's windows, and kill() takes the server down.
 */
export interface TmuxSession {
  socket: string;
  /** send tmux key names or literal text: send("C-c"), send("q"); literal text goes through sendText */
  send(...keys: string[]): Promise<void>;
  /** type text literally (no key-name interpretation) */
  sendText(text: string): Promise<void>;
  /** type a line and press Enter */
  sendLine(line: string): Promise<void>;
  /** the visible screen (plus `history` lines of scrollback), trailing blank lines removed */
  capture(opts?: { history?: number }): Promise<string>;
  /** resolves with the captured screen once it matches, rejects with the screen after `timeoutMs` */
  waitFor(pattern: string | RegExp, timeoutMs?: number, opts?: { history?: number }): Promise<string>;
  /** resize the window (the program inside gets SIGWINCH) */
  resize(cols: number, rows: number): Promise<void>;
  /** whether the command in the pane has exited (the pane stays open, see remain-on-exit) */
  exited(): Promise<boolean>;
  /** the command's exit status once it has exited, else null */
  exitStatus(): Promise<number | null>;
  kill(): Promise<void>;
}

const TMUX = "/usr/bin/tmux";

export async function startTmux(command: string | string[], opts: { cols?: number; rows?: number; env?: Record<string, string>; cwd?: string } = {}): Promise<TmuxSession> {
  if (!fs.existsSync(TMUX)) throw new Error(`${TMUX} is missing: apt-get install -y tmux`);
  const socket = `gh-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  const cmd = typeof command === "string" ? command : command.map(shellQuote).join(" ");
  // An empty config: the developer's ~/.tmux.conf must not change keys, sizes or the status line.
  const conf = path.join(os.tmpdir(), `${socket}.conf`);
  fs.writeFileSync(conf, "");
  const env = { ...process.env, TERM: "xterm-256color", ...opts.env } as NodeJS.ProcessEnv;
  delete env.TMUX;
  const tmux = (args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(TMUX, ["-L", socket, "-f", conf, ...args], { env, encoding: "utf8" }, (err, stdout, stderr) => (err ? reject(new Error(`tmux ${args[0]}: ${stderr || err.message}`)) : resolve(stdout))),
    );
  const size = ["-x", String(opts.cols ?? 120), "-y", String(opts.rows ?? 40)];
  // The exit status, written by the pane's shell: tmux can mark the pane dead and never learn
  // its status (seen once in CI with tmux 3.3a: pane_dead=1, pane_dead_status empty for 10 s).
  const statusFile = path.join(os.tmpdir(), `${socket}.status`);
  await tmux(["new-session", "-d", "-s", "main", ...size, ...(opts.cwd ? ["-c", opts.cwd] : []), `${cmd}; echo $? > ${shellQuote(statusFile)}`]);
  // Keep the pane (and its last screen) when the command exits, so tests can read both.
  await tmux(["set-option", "-t", "main", "remain-on-exit", "on"]);
  await tmux(["set-option", "-t", "main", "status", "off"]);

  const capture = async (o: { history?: number } = {}) => {
    const out = await tmux(["capture-pane", "-p", "-J", "-t", "main", ...(o.history ? ["-S", String(-o.history)] : [])]);
    return out.replace(/\s+$/, "");
  };
  const paneInfo = async (format: string) => (await tmux(["display-message", "-p", "-t", "main", format])).trim();

  let killed = false;
  return {
    socket,
    send: async (...keys) => void (await tmux(["send-keys", "-t", "main", ...keys])),
    sendText: async (text) => void (await tmux(["send-keys", "-t", "main", "-l", text])),
    sendLine: async (line) => {
      if (line) await tmux(["send-keys", "-t", "main", "-l", line]);
      await tmux(["send-keys", "-t", "main", "Enter"]);
    },
    capture,
    waitFor: async (pattern, timeoutMs = 10_000, o = {}) => {
      const deadline = Date.now() + timeoutMs;
      const matches = (s: string) => (typeof pattern === "string" ? s.includes(pattern) : pattern.test(s));
      let screen = "";
      for (;;) {
        screen = await capture(o);
        if (matches(screen)) return screen;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}; the screen was:\n${screen}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    resize: async (cols, rows) => void (await tmux(["resize-window", "-t", "main", "-x", String(cols), "-y", String(rows)])),
    exited: async () => (await paneInfo("#{pane_dead}")) === "1",
    exitStatus: async () => {
      try {
        const written = fs.readFileSync(statusFile, "utf8").trim();
        if (written) return Number(written);
      } catch {
        // not exited yet
      }
      const [dead, status] = (await paneInfo("#{pane_dead} #{pane_dead_status}")).split(" ");
      return dead === "1" && status ? Number(status) : null;
    },
    kill: async () => {
      if (killed) return;
      killed = true;
      try {
        execFileSync(TMUX, ["-L", socket, "kill-server"], { stdio: "ignore", env });
      } catch {
        // already gone
      }
      fs.rmSync(conf, { force: true });
      fs.rmSync(statusFile, { force: true });
    },
  };
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\-.,/:=@%+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
