import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import type { DbHandle } from "@/db/client";
import { LocalWatches, RemoteWatches, WATCH_RENEW_MS, watchList } from "./watches";
import { loggable } from "@/lib/util/loggable";

/**
 * Publish/subscribe for everything that must reach other parts of Gatehouse at once: policy
 * changes, approval decisions, revocations, live session events. In-process always; on
 * PostgreSQL also over LISTEN/NOTIFY so several Gatehouse processes on one database behave as one.
 */
export interface BusMessage<T = unknown> {
  topic: string;
  data: T;
  /** node that published it */
  origin: string;
  /** over NOTIFY only: several messages of `topic` in one (publishMany) */
  batch?: T[];
}

const CHANNEL = "gatehouse_events";
/** NOTIFY payloads are limited to 8000 bytes; larger messages stay local (callers keep them small). */
const MAX_NOTIFY_BYTES = 7900;
/** Watch announcements between processes (see watch()); never delivered to subscribers. */
const WATCH_TOPIC = "bus.watch";
/** watch().ready resolves at the latest after this long, even if the announcement never came back. */
const WATCH_READY_MS = 2_000;

export interface Watch {
  /**
   * true once other processes have been told (the announcement came back through the database,
   * or WATCH_READY_MS passed); false at once when there is no database bridge to tell them over.
   */
  ready: Promise<boolean>;
  stop(): void;
}

export class EventBus {
  readonly nodeId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private emitter = new EventEmitter();
  private unlisten: (() => Promise<void>) | null = null;
  private handle: DbHandle | null = null;
  private readonly localWatches = new LocalWatches();
  private readonly remoteWatches = new RemoteWatches();
  private readonly echoes = new Map<string, () => void>();
  private renewTimer: NodeJS.Timeout | null = null;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Whether other processes reach this one through the database (then a message can be lost). */
  get bridged(): boolean {
    return this.handle !== null;
  }

  /** Bridge to other processes through the database, when it can (postgres-js, not PGlite). */
  async attach(handle: DbHandle): Promise<void> {
    if (!handle.listen || !handle.notify || this.handle === handle) return;
    this.handle = handle;
    // publishMany's payloads start with topic and origin: our own come back, skip them unparsed.
    const ownBatch = `","origin":${JSON.stringify(this.nodeId)},"batch":[`;
    this.unlisten = await handle.listen(CHANNEL, (payload) => {
      const at = payload.startsWith('{"topic":"') ? payload.indexOf('","origin":') : -1;
      if (at > 0 && payload.startsWith(ownBatch, at)) return;
      let msg: BusMessage;
      try {
        msg = JSON.parse(payload);
      } catch {
        return;
      }
      if (msg.topic === WATCH_TOPIC) return this.onWatchMessage(msg);
      if (msg.origin === this.nodeId) return; // already delivered locally
      if (Array.isArray(msg.batch)) for (const data of msg.batch) this.deliver({ topic: msg.topic, data, origin: msg.origin });
      else this.deliver(msg);
    });
    // Learn the watches of the processes already running (they answer with announcements), and
    // tell them ours, if any were made before attaching.
    await this.notify({ topic: WATCH_TOPIC, origin: this.nodeId, data: { query: true } });
    if (this.localWatches.size) {
      this.keepRenewing();
      void this.announce(this.localWatches.all(), true);
    }
  }

  async detach(): Promise<void> {
    await this.unlisten?.().catch(() => {});
    this.unlisten = null;
    this.handle = null;
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    for (const resolve of this.echoes.values()) resolve();
    this.echoes.clear();
  }

  /** Delivers locally now; remote delivery is best effort and never blocks the caller's path. */
  async publish<T>(topic: string, data: T): Promise<void> {
    const msg: BusMessage<T> = { topic, data, origin: this.nodeId };
    this.deliver(msg);
    if (this.handle?.notify) {
      const payload = JSON.stringify(msg);
      if (Buffer.byteLength(payload) <= MAX_NOTIFY_BYTES) {
        await this.handle.notify(CHANNEL, payload).catch((err) => console.error("[events] notify failed:", err.message));
      }
    }
  }

  /**
   * Many messages of one topic at once (live session events): each is delivered locally now;
   * other processes get them packed into as few NOTIFYs as fit, not one database round trip each.
   * Subscribers see the same single messages either way.
   */
  async publishMany<T>(topic: string, items: readonly T[], opts: { watchKey?: (item: T) => string } = {}): Promise<void> {
    for (const data of items) this.deliver({ topic, data, origin: this.nodeId });
    if (!this.handle?.notify || items.length === 0) return;
    const { watchKey } = opts;
    if (watchKey) {
      // On demand: only what another process watches leaves this one.
      if (this.remoteWatches.empty) return;
      const now = Date.now();
      items = items.filter((item) => this.remoteWatches.has(topic, watchKey(item), now));
      if (items.length === 0) return;
    }
    const head = JSON.stringify({ topic, origin: this.nodeId, batch: [] }).length;
    let pack: string[] = [];
    let bytes = head;
    const send = async () => {
      if (!pack.length) return;
      const payload = `{"topic":${JSON.stringify(topic)},"origin":${JSON.stringify(this.nodeId)},"batch":[${pack.join(",")}]}`;
      pack = [];
      bytes = head;
      await this.handle?.notify?.(CHANNEL, payload).catch((err) => console.error("[events] notify failed:", err.message));
    };
    for (const data of items) {
      const json = JSON.stringify(data);
      const size = Buffer.byteLength(json) + 1;
      if (head + size > MAX_NOTIFY_BYTES) continue; // too large for NOTIFY: stays local, as with publish()
      if (bytes + size > MAX_NOTIFY_BYTES) await send();
      pack.push(json);
      bytes += size;
    }
    await send();
  }

  /**
   * Asks for the messages of an on-demand topic (published with `publishMany(…, {watchKey})`)
   * whose key is `key` to be sent to this process too, until `stop()`. Subscribe first: local
   * publications arrive either way, other processes' from about when `ready` resolves.
   */
  watch(topic: string, key: string): Watch {
    const first = this.localWatches.add(topic, key);
    this.keepRenewing();
    const bridged = !!this.handle?.notify;
    const ready = (first ? this.announce([[topic, key]], true) : Promise.resolve()).then(() => bridged);
    let stopped = false;
    return {
      ready,
      stop: () => {
        if (stopped) return;
        stopped = true;
        if (this.localWatches.remove(topic, key)) void this.announce([[topic, key]], false);
        if (this.localWatches.size === 0 && this.renewTimer) {
          clearInterval(this.renewTimer);
          this.renewTimer = null;
        }
      },
    };
  }

  /** Subscribe to a topic, or to a prefix with a trailing "*" ("session.*"). Returns unsubscribe. */
  subscribe<T = unknown>(pattern: string, fn: (data: T, msg: BusMessage<T>) => void): () => void {
    const listener = (msg: BusMessage<T>) => {
      if (pattern.endsWith("*") ? msg.topic.startsWith(pattern.slice(0, -1)) : msg.topic === pattern) {
        try {
          fn(msg.data, msg);
        } catch (err) {
          console.error(`[events] subscriber for ${pattern} failed:`, loggable(err));
        }
      }
    };
    this.emitter.on("message", listener);
    return () => this.emitter.off("message", listener);
  }

  /** Resolves with the first message on `topic` that matches, or null after timeoutMs. */
  waitFor<T>(topic: string, match: (data: T) => boolean, timeoutMs: number): Promise<T | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(null);
      }, timeoutMs);
      const off = this.subscribe<T>(topic, (data) => {
        if (!match(data)) return;
        clearTimeout(timer);
        off();
        resolve(data);
      });
    });
  }

  private deliver(msg: BusMessage) {
    this.emitter.emit("message", msg);
  }

  /** Re-announces this process's watches every WATCH_RENEW_MS while it has any. */
  private keepRenewing() {
    this.renewTimer ??= setInterval(() => void this.announce(this.localWatches.all(), true), WATCH_RENEW_MS).unref();
  }

  private async notify(msg: BusMessage): Promise<void> {
    await this.handle?.notify?.(CHANNEL, JSON.stringify(msg)).catch((err) => console.error("[events] notify failed:", err.message));
  }

  /** Tells the other processes (in as few NOTIFYs as fit); resolves when the last one came back. */
  private async announce(watches: [string, string][], on: boolean): Promise<void> {
    if (!this.handle?.notify || watches.length === 0) return;
    const chunks: [string, string][][] = [[]];
    let bytes = 0;
    for (const w of watches) {
      const size = JSON.stringify(w).length + 1;
      if (bytes + size > MAX_NOTIFY_BYTES - 200 && chunks[chunks.length - 1].length) {
        chunks.push([]);
        bytes = 0;
      }
      chunks[chunks.length - 1].push(w);
      bytes += size;
    }
    for (const chunk of chunks) {
      const nonce = randomUUID();
      const echoed = new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.echoes.delete(nonce);
          resolve();
        };
        const timer = setTimeout(done, WATCH_READY_MS);
        this.echoes.set(nonce, done);
      });
      await this.notify({ topic: WATCH_TOPIC, origin: this.nodeId, data: { on, watches: chunk, nonce } });
      await echoed;
    }
  }

  private onWatchMessage(msg: BusMessage) {
    const data = (msg.data ?? {}) as { query?: unknown; on?: unknown; watches?: unknown; nonce?: unknown };
    if (msg.origin === this.nodeId) {
      if (typeof data.nonce === "string") this.echoes.get(data.nonce)?.();
      return;
    }
    if (data.query === true) void this.announce(this.localWatches.all(), true);
    else this.remoteWatches.note(String(msg.origin), watchList(data.watches), data.on === true);
  }
}

const g = globalThis as { __gatehouseBus?: EventBus };
/** One bus per process, shared by Next's bundle and server.ts. */
export function getBus(): EventBus {
  return (g.__gatehouseBus ??= new EventBus());
}

export const Topics = {
  policyChanged: "policy.changed",
  /** DDL ran through a PostgreSQL gateway: catalog answers kept for that database are stale (postgres/catalog-changes.ts) */
  pgCatalogChanged: "pg.catalog-changed",
  maskingChanged: "masking.changed",
  approvalCreated: "approval.created",
  approvalDecided: "approval.decided",
  tokenRevoked: "token.revoked",
  userDisabled: "user.disabled",
  /** role, password or session version changed: console sessions and sockets must re-authenticate */
  userChanged: "user.changed",
  /** groups re-synced from an identity provider at login: live gateway sessions re-read them */
  userGroupsSynced: "user.groups-synced",
  sessionStarted: "session.started",
  sessionEnded: "session.ended",
  sessionKill: "session.kill",
  /** on demand: other processes get a session's events only while they watch it (bus.watch) */
  sessionEvent: "session.event",
  connectionChanged: "connection.changed",
  grantRevoked: "grant.revoked",
  sshKeyRemoved: "ssh-key.removed",
  /** a policy text to preview against each process's live sessions (lib/services/policies/impact.ts) */
  policyPreview: "policy.preview",
} as const;
