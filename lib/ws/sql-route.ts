import { getDb } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { principalForUser } from "@/lib/gateway/core/user-principal";
import { SqlConsole } from "@/lib/sql-console/console";
import { loggable } from "@/lib/util/loggable";
import { resumeRegistry } from "./resumable";
import { registerWsRoute } from "./router";

/**
 * /ws/sql/:connection — the console's SQL page. The router has authenticated the caller and
 * checked the Origin; the object check here is that the connection exists and is PostgreSQL.
 * Whether this person may use it, and each statement, is the gateway's policy decision, exactly
 * as for psql: the console logs in through the PostgreSQL gateway as the caller (sql-console).
 *
 * After a network loss the browser comes back with `?resume=TOKEN&after=SEQ` (console.ts: the
 * connection waits for it, and the token is honoured only for the credential that opened it).
 *
 * Messages in: {type:"run", id, sql}, {type:"cancel"}, {type:"close"}, {type:"ack", seq}. Out: WireMessage.
 */
const consoles = resumeRegistry<SqlConsole>("sql-console");
registerWsRoute({
  pattern: /^\/ws\/sql\/([a-z0-9][a-z0-9_-]{0,62})$/,
  permission: "gateway:use",
  async authorizeObject(_caller, match, url) {
    // A resume is checked on connection (below): an unknown, ended or foreign token closes with
    // 4404, so the browser stops retrying at once instead of for the whole grace period.
    if (url.searchParams.get("resume")) return true;
    const c = await getConnection(await getDb(), { name: match[1] });
    return c?.type === "postgres";
  },
  onConnection(ws, caller, match, url) {
    const resume = url.searchParams.get("resume");
    const address = (ws as unknown as { _socket?: { remoteAddress?: string } })._socket?.remoteAddress ?? "";
    const socket = { send: (json: string) => ws.readyState === ws.OPEN && ws.send(json), close: (code: number, reason: string) => ws.close(code, reason) };
    const found = resume ? consoles.find(resume, caller, match[1]) : undefined;
    if (resume && !found) return ws.close(4404, "console session is gone");
    let opened: Promise<void> = Promise.resolve();
    let con: SqlConsole;
    if (found) {
      con = found;
      const after = Number(url.searchParams.get("after"));
      con.attach(socket, Number.isSafeInteger(after) && after >= 0 ? after : 0);
    } else {
      const fresh = new SqlConsole(() => consoles.delete(fresh));
      con = fresh;
      consoles.add(fresh, caller, match[1]);
      fresh.attach(socket, null);
      opened = (async () => {
        const db = await getDb();
        const principal = caller.principal ?? (await principalForUser(db, caller.userId));
        fresh.open(db, principal, match[1], address);
      })().catch((err) => {
        console.error("[sql-console] failed:", loggable(err));
        ws.close(1011, "failed");
        void fresh.end();
      });
    }
    ws.on("message", (data, isBinary) => {
      let msg: { type?: unknown; id?: unknown; sql?: unknown; seq?: unknown };
      try {
        msg = isBinary ? {} : JSON.parse(data.toString());
      } catch {
        return;
      }
      if (msg.type === "ack") return Number.isSafeInteger(msg.seq) ? con.acknowledge(msg.seq as number) : undefined;
      if (msg.type === "cancel") return con.cancel();
      if (msg.type === "close") return void con.end();
      if (msg.type !== "run") return;
      const id = Number.isSafeInteger(msg.id) ? (msg.id as number) : 0;
      const text = msg.sql;
      void opened.then(() => con.run(id, text));
    });
    const ping = setInterval(() => ws.ping(), 20_000);
    ws.on("close", (code) => {
      clearInterval(ping);
      // 1000: the browser closed it on purpose; 4401: authorization ended (revoked, disabled,
      // signed out). No grace for either: only a lost connection is waited for.
      if (code === 1000 || code === 4401) void con.end();
      else con.detach(socket);
    });
  },
});
