import type { GatehouseConfig } from "@/lib/config/env";
import type { DbHandle } from "@/db/client";
import type { EventBus } from "@/lib/events/bus";

/**
 * What every protocol gateway (postgres, mysql, ssh, kubernetes, http) implements. server.ts
 * starts each registered server on its port and stops them in order on shutdown.
 */
export interface ProtocolServer {
  readonly protocol: string;
  /** bind the listener; resolve once it accepts connections */
  start(ctx: GatewayContext): Promise<{ port: number }>;
  /** stop accepting new connections (existing ones continue) */
  stopAccepting(): Promise<void>;
  /** end live sessions with a clear protocol-native message, flushing their recordings */
  endSessions(reason: string): Promise<void>;
  /** number of live sessions */
  liveSessions(): number;
}

export interface GatewayContext {
  config: GatehouseConfig;
  db: DbHandle;
  bus: EventBus;
}

export type ProtocolServerFactory = (config: GatehouseConfig) => ProtocolServer | null;

const g = globalThis as { __gatehouseProtocols?: Map<string, ProtocolServerFactory> };
const factories: Map<string, ProtocolServerFactory> = (g.__gatehouseProtocols ??= new Map());

/** Protocol modules call this at import time; server.ts imports lib/gateway/protocols/index.ts. */
export function registerProtocol(name: string, factory: ProtocolServerFactory) {
  factories.set(name, factory);
}

export class GatewayRegistry {
  private running: ProtocolServer[] = [];

  async startAll(ctx: GatewayContext): Promise<{ protocol: string; port: number }[]> {
    const started = [];
    for (const [name, factory] of factories) {
      const server = factory(ctx.config);
      if (!server) continue;
      const { port } = await server.start(ctx);
      this.running.push(server);
      started.push({ protocol: name, port });
    }
    return started;
  }

  async stopAll(reason: string): Promise<void> {
    await Promise.allSettled(this.running.map((s) => s.stopAccepting()));
    await Promise.allSettled(this.running.map((s) => s.endSessions(reason)));
    this.running = [];
  }

  liveSessions(): number {
    return this.running.reduce((n, s) => n + s.liveSessions(), 0);
  }
}
