import net from "node:net";
import { expect } from "vitest";
import { build, FrameReader, parseBackendMessage } from "@/lib/gateway/protocols/postgres/wire";

/**
 * A raw PostgreSQL wire-protocol client logged in to the gateway with a token as password: for
 * what drivers will not send (a Bind of a statement only SQL PREPARE defined, pipelines without
 * Sync, binary result formats chosen by hand).
 */
export async function rawPgSession(port: number, opts: { user: string; database: string; password: string }) {
  const s = net.connect(port, "127.0.0.1");
  const reader = new FrameReader();
  const msgs: any[] = [];
  let ended = false;
  s.on("data", (d) => {
    reader.push(d);
    for (let f = reader.next(); f; f = reader.next()) msgs.push(parseBackendMessage(f));
  });
  s.on("close", () => (ended = true));
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(pred()).toBe(true);
  };
  /** waits for ReadyForQuery and returns (and clears) everything received since the last call */
  const ready = async () => {
    await until(() => msgs.some((m) => m.type === "ReadyForQuery"));
    return msgs.splice(0);
  };
  await new Promise((r) => s.once("connect", r));
  s.write(build.startupMessage({ user: opts.user, database: opts.database }));
  await until(() => msgs.some((m) => m.type === "AuthenticationCleartextPassword"));
  s.write(build.password(opts.password));
  await ready();
  return { write: (...parts: Buffer[]) => s.write(Buffer.concat(parts)), msgs, until, ready, ended: () => ended, end: () => s.end(build.terminate()) };
}
