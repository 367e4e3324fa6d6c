import type { Db } from "@/db/client";

/**
 * The database as the recorder sees it, refusing every write while `down()` is true: drizzle's
 * `execute` and the PGlite client underneath (binary inserts and COPY go to it directly).
 */
export function flakyDb(db: Db, down: () => boolean): Db {
  const refuse = () => Promise.reject(new Error("connection refused"));
  const client = (db as unknown as { $client: object }).$client;
  const flakyClient = new Proxy(client, {
    get(target, prop, receiver) {
      if (down() && (prop === "execProtocolRaw" || prop === "query")) return refuse;
      // PGlite's methods use private fields: call them on PGlite itself, not on the proxy
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "$client") return flakyClient;
      if (prop === "execute" && down()) return refuse;
      return Reflect.get(target, prop, receiver);
    },
  }) as Db;
}
