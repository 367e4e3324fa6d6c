import { getDb } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { principalForUser } from "@/lib/gateway/core/user-principal";
import { SqlConsole } from "@/lib/sql-console/console";
import { loggable } from "@/lib/util/loggable";
import { registerWsRoute } from "./router";

/** Longest SQL text one message may carry (the socket's own limit is 1 MiB). */
const MAX_SQL_CHARS = 100_000;

/**
 * /ws/sql/:connection — the console's SQL page. The router has authenticated the caller and
 * checked the Origin; the object check here is that the connection exists and is PostgreSQL.
 * Whether this person may use it, and each statement, is the gateway's policy decision, exactly
 * as for psql: the console logs in through the PostgreSQL gateway as the caller (sql-console).
 *
 * Messages in: {type:"run", id, sql}, {type:"cancel"}. Out: ConsoleMessage.
 */
registerWsRoute({
  pattern: /^\/ws\/sql\/([a-z0-9][a-z0-9_-]{0,62})$/,
  permission: "gateway:use",
  async authorizeObject(_caller, match) {
    const c = await getConnection(await getDb(), { name: match[1] });
    return c?.type === "postgres";
  },
  onConnection(ws, caller, match) {
    const address = (ws as unknown as { _socket?: { remoteAddress?: string } })._socket?.remoteAddress ?? "";
    const send = (msg: object) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(msg));
    let sqlConsole: SqlConsole | null = null;
    const opened = (async () => {
      const db = await getDb();
      const principal = caller.principal ?? (await principalForUser(db, caller.userId));
      sqlConsole = new SqlConsole(db, (msg) => {
        send(msg);
        if (msg.type === "closed") ws.close(1000, "closed");
      });
      sqlConsole.open(principal, match[1], address);
    })().catch((err) => {
      console.error("[sql-console] failed:", loggable(err));
      send({ type: "closed", reason: "the console failed to open" });
      ws.close(1011, "failed");
    });
    ws.on("message", (data, isBinary) => {
      let msg: { type?: unknown; id?: unknown; sql?: unknown };
      try {
        msg = isBinary ? {} : JSON.parse(data.toString());
      } catch {
        return;
      }
      if (msg.type === "cancel") return sqlConsole?.cancel();
      if (msg.type !== "run") return;
      const id = Number.isSafeInteger(msg.id) ? (msg.id as number) : 0;
      if (typeof msg.sql !== "string" || msg.sql.trim() === "") return send({ type: "error", id, code: null, message: "nothing to run" });
      if (msg.sql.length > MAX_SQL_CHARS) return send({ type: "error", id, code: null, message: `the SQL is longer than ${MAX_SQL_CHARS} characters` });
      // PostgreSQL reads a Query as a C string: it would run only what precedes a NUL.
      if (msg.sql.includes("\0")) return send({ type: "error", id, code: null, message: "the SQL contains a NUL byte" });
      const text = msg.sql;
      void opened.then(() => sqlConsole?.run(id, text));
    });
    const ping = setInterval(() => ws.ping(), 20_000);
    ws.on("close", () => {
      clearInterval(ping);
      void opened.then(() => sqlConsole?.end());
    });
  },
});
