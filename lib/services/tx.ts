import type { Db, Tx } from "@/db/client";
import { getBus } from "@/lib/events/bus";

/**
 * Runs a mutation in a transaction and publishes its events only after commit, so no other
 * process ever reacts to a change that rolled back.
 */
export async function mutate<T>(db: Db, fn: (tx: Tx, emit: (topic: string, data: unknown) => void) => Promise<T>): Promise<T> {
  const pending: [string, unknown][] = [];
  const result = await db.transaction((tx) => fn(tx, (topic, data) => pending.push([topic, data])));
  const bus = getBus();
  for (const [topic, data] of pending) await bus.publish(topic, data);
  return result;
}
