/**
 * Who watches what, for topics delivered to other processes only on demand (live session events:
 * one message per recorded event, which nobody elsewhere needs unless a viewer there follows that
 * session). A process announces the keys it watches; every process remembers the others'
 * announcements until they lapse, so a crashed process's watches end by themselves.
 */

/** A process re-announces its watches this often; others forget them after WATCH_TTL_MS. */
export const WATCH_RENEW_MS = 10_000;
export const WATCH_TTL_MS = 35_000;

const id = (topic: string, key: string) => `${topic}\n${key}`;

/** This process's watches, counted: two viewers of one session are one watch. */
export class LocalWatches {
  private readonly counts = new Map<string, { topic: string; key: string; n: number }>();

  /** true when this is the first watch of that key (it must be announced) */
  add(topic: string, key: string): boolean {
    const w = this.counts.get(id(topic, key));
    if (w) return w.n++ === 0;
    this.counts.set(id(topic, key), { topic, key, n: 1 });
    return true;
  }

  /** true when that was the last watch of the key (its end may be announced) */
  remove(topic: string, key: string): boolean {
    const w = this.counts.get(id(topic, key));
    if (!w || --w.n > 0) return false;
    this.counts.delete(id(topic, key));
    return true;
  }

  get size() {
    return this.counts.size;
  }

  all(): [topic: string, key: string][] {
    return [...this.counts.values()].map((w) => [w.topic, w.key]);
  }
}

/** The other processes' watches, as they announced them, each until it lapses. */
export class RemoteWatches {
  private readonly until = new Map<string, Map<string, number>>();

  constructor(private readonly ttlMs = WATCH_TTL_MS) {}

  note(node: string, watches: readonly [string, string][], on: boolean, now = Date.now()) {
    for (const [topic, key] of watches) {
      const k = id(topic, key);
      if (on) {
        let nodes = this.until.get(k);
        if (!nodes) this.until.set(k, (nodes = new Map()));
        nodes.set(node, now + this.ttlMs);
      } else {
        const nodes = this.until.get(k);
        nodes?.delete(node);
        if (nodes?.size === 0) this.until.delete(k);
      }
    }
  }

  /** Does any other process (still) watch this key? */
  has(topic: string, key: string, now = Date.now()): boolean {
    if (this.until.size === 0) return false;
    const nodes = this.until.get(id(topic, key));
    if (!nodes) return false;
    for (const [node, until] of nodes) if (until < now) nodes.delete(node);
    if (nodes.size === 0) this.until.delete(id(topic, key));
    return nodes.size > 0;
  }

  get empty() {
    return this.until.size === 0;
  }
}

/** Parses a watch announcement's list, dropping anything that is not a [topic, key] pair. */
export function watchList(value: unknown): [string, string][] {
  if (!Array.isArray(value)) return [];
  return value.filter((w): w is [string, string] => Array.isArray(w) && w.length === 2 && typeof w[0] === "string" && typeof w[1] === "string");
}
