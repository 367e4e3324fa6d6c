import { getBus, Topics } from "@/lib/events/bus";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import type { RequestKind } from "@/lib/gateway/core/types";
import { databaseOf, forgetDatabase } from "./metadata";

/**
 * The catalog answers masking keeps (metadata.ts, CACHE_TTL_MS) must not outlive DDL that ran
 * through the gateway: after `ALTER TABLE t RENAME COLUMN ssn_new TO ssn` a kept answer still names
 * the column ssn_new, and a masked session reading `ssn` got it unmasked until the answer expired;
 * a function created a moment after its name was looked up (and found absent) was not user code.
 *
 * A session that ran a statement that may change the catalog (DDL, admin, anything unknown: a DO
 * block, CALL, code written in the database) makes every pool on that database forget, in this
 * process at once (before the client sees ReadyForQuery) and in the others over the event bus.
 * Inside a transaction the change is seen by others only at COMMIT: the session forgets again
 * after every statement until its transaction ends. DDL run on the database directly, not through
 * a Gatehouse, is caught where masking uses the answers: catalog-stamps.ts.
 */

const CHANGES_CATALOG: ReadonlySet<RequestKind> = new Set(["ddl", "admin", "unknown"]);

export function mayChangeCatalog(kind: RequestKind): boolean {
  return CHANGES_CATALOG.has(kind);
}

/** Forgets the catalog answers of `target`'s database here and in every process on the bus. */
export function catalogChanged(target: UpstreamTarget) {
  listenForCatalogChanges();
  // publish() delivers to this process synchronously, then NOTIFYs the others.
  void getBus().publish(Topics.pgCatalogChanged, { database: databaseOf(target) });
}

const g = globalThis as { __gatehousePgCatalogListener?: () => void };

/** Once per process: a change announced by any process makes this one forget. */
export function listenForCatalogChanges() {
  g.__gatehousePgCatalogListener ??= getBus().subscribe<{ database?: unknown }>(Topics.pgCatalogChanged, ({ database }) => {
    if (typeof database === "string") forgetDatabase(database);
  });
}
