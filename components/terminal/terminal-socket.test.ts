import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer, type WebSocket as ServerSocket } from "ws";
import { TerminalSocket, type SocketLike, type TerminalSocketState } from "./terminal-socket";

/**
 * The browser terminal's protocol client against a real WebSocket server that speaks
 * TERMINAL.md's protocol (a stand-in for the gateway's /ws/terminal route, which the end-to-end
 * tests exercise with a real sshd): framing, resize, held, exit, and resume after a drop.
 */
interface Conn {
  ws: ServerSocket;
  query: URLSearchParams;
  input: Buffer[];
  text: unknown[];
}

let server: WebSocketServer | null = null;
afterEach(() => {
  for (const c of server?.clients ?? []) c.terminate();
  server?.close();
  server = null;
});

async function stand(onConnection: (c: Conn) => void, verify?: (query: URLSearchParams) => boolean) {
  server = new WebSocketServer({ port: 0, host: "127.0.0.1", verifyClient: (info: { req: { url?: string } }) => !verify || verify(new URL(info.req.url ?? "/", "http://x").searchParams) });
  await new Promise((r) => server!.once("listening", r));
  const conns: Conn[] = [];
  server.on("connection", (ws, req) => {
    const c: Conn = { ws, query: new URL(req.url ?? "/", "http://x").searchParams, input: [], text: [] };
    ws.on("message", (data, isBinary) => (isBinary ? c.input.push(data as Buffer) : c.text.push(JSON.parse(String(data)))));
    conns.push(c);
    onConnection(c);
  });
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws/terminal/web`, conns };
}

function client(url: string, graceMs = 60_000) {
  const out: Buffer[] = [];
  const states: TerminalSocketState[] = [];
  const gaps: number[] = [];
  const sock = new TerminalSocket({
    url,
    size: () => ({ cols: 100, rows: 30 }),
    onOutput: (d) => out.push(Buffer.from(d)),
    onState: (s) => states.push(s),
    onGap: (n) => gaps.push(n),
    createSocket: (u) => new WebSocket(u) as unknown as SocketLike,
    graceMs,
  });
  return { sock, states, gaps, output: () => Buffer.concat(out).toString(), phase: () => states.at(-1)?.phase };
}

const until = async (cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("TerminalSocket", () => {
  it("sends keystrokes as binary and resizes as JSON; writes binary output", async () => {
    const s = await stand((c) => {
      c.ws.send(JSON.stringify({ type: "ready", sessionId: "s-1", resumeToken: "tok" }));
      c.ws.send(Buffer.from("$ "));
    });
    const c = client(s.url);
    c.sock.connect();
    await until(() => c.output() === "$ ");
    expect(s.conns[0].query.get("cols")).toBe("100");
    expect(s.conns[0].query.get("rows")).toBe("30");
    expect(s.conns[0].query.has("resume")).toBe(false);
    c.sock.sendText("ls é\r");
    c.sock.sendBinaryString("\x1b[M \xff!");
    c.sock.resize(120, 40);
    await until(() => s.conns[0].input.length === 2 && s.conns[0].text.length === 1);
    expect(s.conns[0].input[0].toString("utf8")).toBe("ls é\r");
    expect([...s.conns[0].input[1]]).toEqual([0x1b, 0x5b, 0x4d, 0x20, 0xff, 0x21]);
    expect(s.conns[0].text).toEqual([{ type: "resize", cols: 120, rows: 40 }]);
    expect(c.states.at(-1)).toEqual({ phase: "ready", sessionId: "s-1" });
    c.sock.close();
  });

  it("resumes after a dropped connection with the token and the bytes it already has", async () => {
    const s = await stand((c) => {
      if (!c.query.get("resume")) {
        c.ws.send(JSON.stringify({ type: "ready", sessionId: "s-2", resumeToken: "tok-2" }));
        c.ws.send(Buffer.from("hello "));
      } else if (c.query.get("resume") === "tok-2") {
        // like the gateway: the missed output first, then ready
        c.ws.send(Buffer.from("world"));
        c.ws.send(JSON.stringify({ type: "ready", sessionId: "s-2", resumeToken: "tok-3", resumed: true }));
      } else {
        c.ws.send(JSON.stringify({ type: "gap", lostBytes: 100 }));
        c.ws.send(Buffer.from("!"));
        c.ws.send(JSON.stringify({ type: "ready", sessionId: "s-2", resumeToken: "tok-3", resumed: true }));
      }
    });
    const c = client(s.url);
    c.sock.connect();
    await until(() => c.output() === "hello ");
    s.conns[0].ws.terminate(); // the network drops: no close frame
    await until(() => c.phase() === "reconnecting");
    c.sock.sendText("typed while down"); // dropped, not replayed later
    await until(() => c.output() === "hello world");
    expect(s.conns[1].query.get("resume")).toBe("tok-2");
    expect(s.conns[1].query.get("offset")).toBe("6");
    expect(c.phase()).toBe("ready");
    c.sock.sendText("x");
    await until(() => s.conns[1].input.length === 1);
    expect(s.conns.flatMap((k) => k.input.map(String))).toEqual(["x"]);
    // a second drop resumes with the newest token and the total byte count
    s.conns[1].ws.terminate();
    // Generous: under a loaded CI run this reconnect once took over 5 s (cause not found; see the stop note).
    await until(() => s.conns.length >= 3, 20_000);
    expect(s.conns.length).toBe(3);
    expect(s.conns[2].query.get("resume")).toBe("tok-3");
    expect(s.conns[2].query.get("offset")).toBe("11");
    // the server had dropped 100 bytes: they count, so the next offset matches the server's count
    await until(() => c.output() === "hello world!" && c.phase() === "ready");
    expect(c.gaps).toEqual([100]);
    s.conns[2].ws.terminate();
    await until(() => s.conns.length === 4);
    expect(s.conns[3].query.get("offset")).toBe("112");
    // Closed while this connection may still be opening on the client's side: the server is told
    // once it is open (it failed here under load when close() dropped a connecting socket).
    c.sock.close();
    await until(() => s.conns[3].text.length === 1);
    expect(s.conns[3].text).toEqual([{ type: "close" }]);
  });

  it("offline, reconnects at once even when the close handshake never completes", async () => {
    const sockets: SocketLike[] = [];
    const states: TerminalSocketState[] = [];
    const sock = new TerminalSocket({
      url: "ws://127.0.0.1:9/ws/terminal/web",
      size: () => ({ cols: 80, rows: 24 }),
      onOutput: () => {},
      onState: (s) => states.push(s),
      onGap: () => {},
      // a socket whose close() never completes, as a browser's may while offline
      createSocket: () => {
        const ws: SocketLike = { binaryType: "", readyState: 1, onopen: null, onmessage: null, onclose: null, onerror: null, send() {}, close() {} };
        sockets.push(ws);
        return ws;
      },
    });
    sock.connect();
    sockets[0]!.onmessage!({ data: JSON.stringify({ type: "ready", sessionId: "s-9", resumeToken: "tok" }) });
    sock.interrupt();
    expect(states.at(-1)).toMatchObject({ phase: "reconnecting", sessionId: "s-9" });
    expect(sockets[0]!.onmessage).toBeNull(); // nothing more from the old socket
    await until(() => sockets.length === 2); // the next attempt, resuming with the token
    sock.close();
  });

  it("does not resume a terminal the server closed on purpose", async () => {
    const s = await stand((c) => {
      c.ws.send(JSON.stringify({ type: "ready", sessionId: "s-5", resumeToken: "tok" }));
      setTimeout(() => c.ws.close(4401, "authorization ended"), 50);
    });
    const c = client(s.url);
    c.sock.connect();
    await until(() => c.phase() === "error");
    expect(c.states.at(-1)).toMatchObject({ message: expect.stringContaining("authorization ended") });
    await new Promise((r) => setTimeout(r, 400));
    expect(s.conns.length).toBe(1);
  });

  it("gives up when the server no longer knows the session after the grace period", async () => {
    const s = await stand(
      (c) => {
        c.ws.send(JSON.stringify({ type: "ready", sessionId: "s-3", resumeToken: "tok" }));
      },
      (q) => !q.get("resume"),
    );
    // A grace long enough that a retry's refusal comes back before it ends, even on a loaded machine.
    const c = client(s.url, 2_000);
    c.sock.connect();
    await until(() => c.phase() === "ready");
    s.conns[0].ws.terminate();
    await until(() => c.phase() === "error", 10_000);
    expect(c.states.filter((x) => x.phase === "reconnecting").length).toBeGreaterThan(1);
    expect(c.states.at(-1)).toMatchObject({ phase: "error", message: expect.stringContaining("lost") });
  });

  it("shows a held session's approval link (http only) and the exit reason; no reconnect after exit", async () => {
    const s = await stand((c) => {
      c.ws.send(JSON.stringify({ type: "held", approvalId: 7, url: "http://127.0.0.1:3000/approvals/7" }));
      setTimeout(() => {
        c.ws.send(JSON.stringify({ type: "ready", sessionId: "s-4", resumeToken: "tok" }));
        c.ws.send(JSON.stringify({ type: "exit", code: 2 }));
        c.ws.close();
      }, 100);
    });
    const c = client(s.url);
    c.sock.connect();
    await until(() => c.phase() === "exited");
    expect(c.states).toContainEqual({ phase: "held", approvalId: "7", url: "http://127.0.0.1:3000/approvals/7" });
    expect(c.states.at(-1)).toEqual({ phase: "exited", code: 2, reason: "the shell exited" });
    expect(c.states.map((x) => x.phase)).toEqual(["held", "ready", "exited"]);
    await new Promise((r) => setTimeout(r, 400));
    expect(s.conns.length).toBe(1);

  });

  it("does not turn a non-http approval URL into a link", async () => {
    const s = await stand((k) => k.ws.send(JSON.stringify({ type: "held", approvalId: 8, url: "javascript:alert(1)" })));
    const c = client(s.url);
    c.sock.connect();
    await until(() => c.phase() === "held");
    expect(c.states.at(-1)).toEqual({ phase: "held", approvalId: "8", url: null });
    c.sock.close();
  });

  it("reports a refused upgrade as an error instead of retrying", async () => {
    const s = await stand(() => {}, () => false);
    const c = client(s.url);
    c.sock.connect();
    await until(() => c.phase() === "error");
    await new Promise((r) => setTimeout(r, 300));
    expect(c.states.map((x) => x.phase)).toEqual(["error"]);
  });
});
