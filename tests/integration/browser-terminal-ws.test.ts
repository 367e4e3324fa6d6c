import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startSshd, type Sshd } from "../support/sshd";
import { addConnection, addUser, sshUpstream } from "../support/api-fixture";

/**
 * The browser terminal's WebSocket (TERMINAL.md) spoken directly, as the browser would, against a
 * real Gatehouse and a real sshd: typing before the shell exists, resuming after a drop, and the
 * 4404 answer for resume tokens that are unknown, ended or someone else's.
 */
describe("browser terminal WebSocket", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  const tokens = { alice: "", bob: "" };

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const name of ["alice", "bob"] as const) tokens[name] = await addUser(gh, admin, `${name}@example.test`);
    await addConnection(gh, admin, "web-box", { ...sshUpstream(sshd), tags: ["staging"] });
  }, 120_000);

  afterAll(async () => {
    await teardown(gh, sshd);
  });

  /** A terminal socket with everything it received: output bytes, JSON messages, the close. */
  function open(token: string, query = "cols=100&rows=30") {
    const ws = new WebSocket(`${gh.url.replace(/^http/, "ws")}/ws/terminal/web-box?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const got = { out: "", bytes: 0, messages: [] as Record<string, any>[], closed: null as { code: number; reason: string } | null };
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        got.out += data.toString();
        got.bytes += (data as Buffer).length;
      } else got.messages.push(JSON.parse(data.toString()));
    });
    ws.on("close", (code, reason) => (got.closed = { code, reason: reason.toString() }));
    ws.on("error", () => {});
    const opened = new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    return { ws, got, opened };
  }

  it("keeps what is typed before the shell exists and runs it once the shell starts", async () => {
    const t = open(tokens.alice);
    await t.opened;
    // Sent at once, before `ready`: the session, the upstream and the shell are still being set up.
    t.ws.send(Buffer.from("echo typed-$((40+2))-ahead\r"));
    await expect.poll(() => t.got.out, { timeout: 15_000 }).toMatch(/typed-42-ahead/);
    t.ws.send(JSON.stringify({ type: "close" }));
    t.ws.close();
  });

  it("pushes session start/end on /ws/events to the session's owner, not to other members", async () => {
    const listen = (token: string) => {
      const ws = new WebSocket(`${gh.url.replace(/^http/, "ws")}/ws/events`, { headers: { authorization: `Bearer ${token}` } });
      const topics: { topic: string; data: Record<string, any> }[] = [];
      ws.on("message", (d) => topics.push(JSON.parse(d.toString())));
      return { ws, topics, opened: new Promise((r) => ws.once("open", r)) };
    };
    const [alice, bob] = [listen(tokens.alice), listen(tokens.bob)];
    await Promise.all([alice.opened, bob.opened]);
    const t = open(tokens.alice);
    await t.opened;
    await expect.poll(() => t.got.messages.find((m) => m.type === "ready"), { timeout: 15_000 }).toBeTruthy();
    const { sessionId } = t.got.messages.find((m) => m.type === "ready")!;
    t.ws.send(Buffer.from("exit\r"));
    await expect.poll(() => alice.topics.map((m) => `${m.topic} ${m.data.id}`), { timeout: 10_000 }).toEqual([`session.started ${sessionId}`, `session.ended ${sessionId}`]);
    expect(bob.topics.filter((m) => m.topic.startsWith("session."))).toEqual([]);
    alice.ws.close();
    bob.ws.close();
  });

  it("resumes after a drop with the output missed meanwhile; a foreign, unknown or ended token gets 4404", async () => {
    const first = open(tokens.alice);
    await first.opened;
    await expect.poll(() => first.got.messages.find((m) => m.type === "ready"), { timeout: 15_000 }).toBeTruthy();
    const { resumeToken } = first.got.messages.find((m) => m.type === "ready")!;
    await expect.poll(() => first.got.out, { timeout: 10_000 }).toMatch(/\$ $/);
    first.ws.send(Buffer.from("sleep 0.5; echo while-away\r"));
    first.ws.terminate(); // a network loss: no close frame
    await new Promise((r) => setTimeout(r, 1200));

    // Someone else holding the token, and a token that never existed: the same answer.
    for (const [token, resume] of [[tokens.bob, resumeToken], [tokens.alice, "no-such-terminal-token-xxxxxxxxxxxx"]]) {
      const other = open(token, `resume=${resume}&offset=0`);
      await other.opened;
      await expect.poll(() => other.got.closed, { timeout: 5_000 }).toEqual({ code: 4404, reason: "terminal session is gone" });
      expect(other.got.bytes).toBe(0);
    }

    const back = open(tokens.alice, `resume=${resumeToken}&offset=${first.got.bytes}`);
    await back.opened;
    await expect.poll(() => back.got.out, { timeout: 10_000 }).toMatch(/while-away/);
    await expect.poll(() => back.got.messages, { timeout: 10_000 }).toContainEqual(expect.objectContaining({ type: "ready", resumed: true }));
    back.ws.send(Buffer.from("exit\r"));
    await expect.poll(() => back.got.closed?.code, { timeout: 10_000 }).toBe(1000);

    const late = open(tokens.alice, `resume=${resumeToken}&offset=0`);
    await late.opened;
    await expect.poll(() => late.got.closed?.code, { timeout: 5_000 }).toBe(4404);
  });
});
