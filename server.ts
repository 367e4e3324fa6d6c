/**
 * Gatehouse: ONE process — the Next.js console and API, the WebSocket router (/ws/...), and the
 * protocol gateways. They share state only through the database and the event bus, so the same
 * code runs alone on a laptop (embedded PGlite) or as many processes on one PostgreSQL.
 */
import http from "node:http";
import next from "next";
import { getDbHandle } from "@/db/client";
import { loadConfig } from "@/lib/config/env";
import { checkPublicUrl } from "@/lib/config/public-url";
import { getBus, Topics } from "@/lib/events/bus";
import { GatewayRegistry } from "@/lib/gateway/core/registry";
import { startPolicySync } from "@/lib/gateway/policy/sync";
import { startMaskingSync } from "@/lib/gateway/core/masking-runtime";
import { startReplayIndexer } from "@/lib/gateway/recorder/replay/service";
import { startPolicyPreviewResponder } from "@/lib/services/policies/impact";
import { recoverSpools } from "@/lib/gateway/recorder/recover-spool";
import { endedSessions } from "@/db/queries/sessions";
import { endOrphanedSessions } from "@/lib/services/sessions/end-orphaned";
import { sealQuietly } from "@/lib/services/sessions/seal";
import { startNodeLiveness, type NodeLiveness } from "@/lib/services/sessions/node-liveness";
import { processSpool } from "@/lib/gateway/recorder/spool";
import { checkAuditKey } from "@/lib/services/audit/append";
import { flushRefusals } from "@/lib/services/audit/refusal";
import "@/lib/gateway/protocols";
import { ensureDemoConnection, ensureFirstAdmin } from "@/lib/services/bootstrap";
import { startSampleDb, type SampleDb } from "@/lib/demo/sample-db";
import { closeAllSockets, handleWsUpgrade } from "@/lib/ws";

const dev = process.argv.includes("--dev");
const cfg = loadConfig();
// next-auth builds its callback URLs from this; without it, it warns and trusts the Host header.
process.env.NEXTAUTH_URL ??= cfg.publicUrl;

async function main() {
  // Before anything listens: the console cookie is Secure only over https (lib/config/public-url.ts).
  const served = checkPublicUrl(cfg);
  if (served.warn) console.warn(`\n  [gatehouse] ${served.warn}\n`);
  const dbHandle = await getDbHandle().catch((err: Error) => {
    console.error(`[gatehouse] cannot open the database: ${err.message}`);
    process.exit(1);
  });
  // Before anything is audited: a key other than the log's would fail every audited change.
  await checkAuditKey(dbHandle.db, cfg.dataDir).catch((err: Error) => {
    console.error(`[gatehouse] cannot write the audit log: ${err.message}`);
    process.exit(1);
  });
  const bus = getBus();
  await bus.attach(dbHandle);
  const stopPolicySync = await startPolicySync(dbHandle.db, bus);
  const stopMaskingSync = await startMaskingSync(dbHandle.db, bus);
  const stopReplayIndexer = startReplayIndexer(dbHandle.db, bus);
  const stopPreviews = startPolicyPreviewResponder(dbHandle.db, bus);
  // Sessions left live by a process that is gone: at start (one process on the embedded
  // database), or whenever a process stops renewing its heartbeat (a shared PostgreSQL).
  let liveness: NodeLiveness | null = null;
  let orphaned: { id: string; userId: string | null }[] = [];
  if (dbHandle.kind === "pglite") {
    orphaned = await endOrphanedSessions(dbHandle.db);
    if (orphaned.length) console.log(`[gatehouse] ${orphaned.length} session(s) left live by the previous process marked failed`);
  } else liveness = await startNodeLiveness(dbHandle.db, bus);
  // Output a killed process spooled but never stored (lib/gateway/recorder/spool.ts); then its
  // sessions are complete, and announced as ended: the replay indexer prepares them (again, when
  // on a shared PostgreSQL another process ended them and prepared what it had).
  void recoverSpools(dbHandle.db)
    .catch((err: Error) => {
      console.error(`[recorder] spool recovery failed:`, err.message);
      return { sessions: [] as string[] };
    })
    .then(async ({ sessions: recovered }) => {
      for (const s of orphaned) void bus.publish(Topics.sessionEnded, { id: s.id, userId: s.userId, status: "failed" });
      const announced = new Set(orphaned.map((s) => s.id));
      const ended = await endedSessions(dbHandle.db, recovered);
      for (const s of ended) if (!announced.has(s.id)) void bus.publish(Topics.sessionEnded, s);
      // Complete now: sealed as any ended session is (lib/services/sessions/seal.ts). On a shared
      // PostgreSQL, sessions another process's heartbeat sweep ended are sealed only here, by
      // their own process's next start (its spool may still hold their output).
      const toSeal = new Map<string, string>([...orphaned.map((s) => [s.id, "failed"] as const), ...ended.map((s) => [s.id, s.status] as const)]);
      for (const [id, status] of toSeal) await sealQuietly(dbHandle.db, id, { status, after: "restart" });
    })
    .catch((err: Error) => console.error(`[recorder] announcing recovered sessions failed:`, err.message));

  const admin = await ensureFirstAdmin(dbHandle.db, cfg);
  if (admin?.password) {
    console.log(`\n  First admin created: ${admin.email}\n  Password (shown once): ${admin.password}\n`);
  } else if (admin) {
    console.log(`[gatehouse] first admin ${admin.email} created from GATEHOUSE_ADMIN_PASSWORD`);
  }

  let sample: SampleDb | null = null;
  if (cfg.demo) {
    try {
      sample = await startSampleDb(cfg.dataDir, cfg.demoPort, "demo");
      await ensureDemoConnection(dbHandle.db, sample.port, "demo");
    } catch (err) {
      console.warn(`[gatehouse] demo database not started: ${(err as Error).message}`);
    }
  }

  // tsx turns source maps on for the whole process, so Node kept every Next.js server chunk's map
  // (with its sources) in memory: ~30 MB. Our own modules, loaded above, keep theirs.
  if (!dev) process.setSourceMapsEnabled(false);
  const app = next({ dev, hostname: cfg.bind, port: cfg.port, dir: process.cwd() });
  const handle = app.getRequestHandler();
  await app.prepare();
  const nextUpgrade = app.getUpgradeHandler();

  const server = http.createServer((req, res) => {
    // The peer address comes from the socket, never from the client.
    req.headers["x-gatehouse-peer"] = req.socket.remoteAddress ?? "unknown";
    handle(req, res).catch((err) => {
      console.error("[http] handler failed:", err);
      if (!res.headersSent) res.writeHead(500).end("internal error");
    });
  });
  server.on("upgrade", (req, socket, head) => {
    req.headers["x-gatehouse-peer"] = req.socket.remoteAddress ?? "unknown";
    if (req.url?.startsWith("/ws/")) {
      handleWsUpgrade(req, socket, head).catch(() => socket.destroy());
    } else if (dev) {
      nextUpgrade(req, socket, head); // Next's HMR socket
    } else {
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.port, cfg.bind, resolve);
  });

  const gateways = new GatewayRegistry();
  const started = await gateways.startAll({ config: cfg, db: dbHandle, bus });
  console.log(`[gatehouse] console on ${cfg.publicUrl} (${dev ? "dev" : "production"}), database: ${dbHandle.kind}, node ${bus.nodeId}`);
  for (const s of started) console.log(`[gatehouse] ${s.protocol} gateway on port ${s.port}`);
  if (sample) console.log(`[gatehouse] demo upstream (connection "demo-postgres") on 127.0.0.1:${sample.port}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[gatehouse] ${signal}: stopping`);
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    server.close();
    closeAllSockets();
    stopReplayIndexer();
    stopPreviews();
    await gateways.stopAll(`Gatehouse is shutting down (${signal})`);
    await liveness?.stop();
    server.closeAllConnections();
    // Counted refusals still in their window (a flood in progress) are evidence too.
    await flushRefusals().catch((err: Error) => console.error(`[audit] could not write refusal counts: ${err.message}`));
    await sample?.stop().catch(() => {});
    stopPolicySync();
    stopMaskingSync();
    await bus.detach();
    await dbHandle.close().catch(() => {});
    processSpool().close();
    console.log("[gatehouse] stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err) => {
  console.error("[gatehouse] failed to start:", err);
  process.exit(1);
});
