/**
 * The ceiling for any Node.js proxy on this machine: a TCP relay that does nothing but copy bytes
 * (socket.pipe both ways). Run pgbench through it to see what the relaying alone costs.
 * Usage: npx tsx bench/postgres/noop-proxy.ts LISTEN_PORT UPSTREAM_PORT
 */
import net from "node:net";

export function startNoopProxy(listenPort: number, upstreamPort: number): Promise<net.Server> {
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ port: upstreamPort, host: "127.0.0.1", noDelay: true });
    client.pipe(upstream).on("error", () => client.destroy());
    upstream.pipe(client).on("error", () => upstream.destroy());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  return new Promise((resolve) => server.listen(listenPort, "127.0.0.1", () => resolve(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) void startNoopProxy(Number(process.argv[2]), Number(process.argv[3]));
