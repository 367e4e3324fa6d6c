import { getDb } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { principalForUser } from "@/lib/gateway/core/user-principal";
import { BrowserTerminal } from "@/lib/gateway/protocols/ssh/browser-terminal";
import { registerWsRoute } from "./router";
import { loggable } from "@/lib/util/loggable";
import { resumeRegistry } from "./resumable";

/**
 * /ws/terminal/:connection — the browser SSH terminal (protocol: lib/gateway/recorder/TERMINAL.md).
 * The router has authenticated the caller and checked the Origin; the object check here is that
 * the connection exists and is an SSH connection — whether this person may use it is the
 * gateway's policy decision (`connect`, then the shell), exactly as for `ssh`. A resume token
 * is honoured only for the credential that opened the terminal (resumable.ts).
 */
const terminals = resumeRegistry<BrowserTerminal>("terminal");

const size = (v: string | null, fallback: number, max: number) => {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : fallback;
};

registerWsRoute({
  pattern: /^\/ws\/terminal\/([a-z0-9][a-z0-9_-]{0,62})$/,
  permission: "gateway:use",
  async authorizeObject(caller, match, url) {
    // A resume names a terminal, not a connection: it is checked on connection (below) and an
    // unknown, ended or foreign token closes with 4404, so the browser stops retrying at once
    // (a refused upgrade looks like a network loss and would be retried for the whole grace).
    if (url.searchParams.get("resume")) return true;
    const c = await getConnection(await getDb(), { name: match[1] });
    return c?.type === "ssh";
  },
  onConnection(ws, caller, match, url) {
    const resume = url.searchParams.get("resume");
    const address = (ws as unknown as { _socket?: { remoteAddress?: string } })._socket?.remoteAddress ?? "";
    let terminal = resume ? terminals.find(resume, caller, match[1]) : undefined;
    if (resume && !terminal) return ws.close(4404, "terminal session is gone");
    const socket = { send: (d: Buffer | string) => ws.readyState === ws.OPEN && ws.send(d), close: (code: number, reason: string) => ws.close(code, reason), get bufferedAmount() { return ws.bufferedAmount; } };
    if (!terminal) {
      const t = new BrowserTerminal({ cols: size(url.searchParams.get("cols"), 80, 500), rows: size(url.searchParams.get("rows"), 24, 200) });
      terminal = t;
      terminals.add(t, caller, match[1]);
      t.attach(socket, null);
      void (async () => {
        const db = await getDb();
        const principal = caller.principal ?? (await principalForUser(db, caller.userId));
        await t.run(db, principal, match[1], address);
      })()
        .catch((err) => {
          console.error("[terminal] failed:", loggable(err));
          ws.close(1011, "terminal failed");
        })
        .finally(() => terminals.delete(t));
    } else {
      terminal.attach(socket, size(url.searchParams.get("offset"), 0, Number.MAX_SAFE_INTEGER));
    }
    const t = terminal;
    ws.on("message", (data, isBinary) => {
      if (isBinary) return t.input(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
      try {
        const msg = JSON.parse(data.toString());
        if (msg.type === "resize") t.resize(size(String(msg.cols), 80, 500), size(String(msg.rows), 24, 200));
        else if (msg.type === "close") t.hangUp();
      } catch {
        // ignore malformed control messages
      }
    });
    const ping = setInterval(() => ws.ping(), 20_000);
    ws.on("close", (code) => {
      clearInterval(ping);
      // 4401: authorization ended (revoked/disabled) — no grace for that.
      if (code === 4401) t.hangUp();
      else t.detach(socket);
    });
  },
});
