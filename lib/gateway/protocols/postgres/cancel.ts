import { randomBytes, timingSafeEqual } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { build } from "./wire";

/**
 * Query cancellation. Clients get Gatehouse's own BackendKeyData (random pid and key), never
 * the upstream's: a client that learned the upstream key could cancel other users' queries
 * directly, and a spoofed key must not reach any backend. A CancelRequest arrives on a NEW
 * socket; when its key matches a live session we cancel what that session is doing (a hold,
 * or the running statement via a CancelRequest with the upstream's key). Unknown keys are
 * ignored silently, as PostgreSQL does, so the request reveals nothing.
 */

export interface Cancellable {
  /** cancel the current statement: abort a hold, or forward a cancel upstream */
  cancel(): void;
}

export interface CancelKey {
  pid: number;
  secretKey: Buffer;
}

export class CancelRegistry {
  private readonly byPid = new Map<number, { key: Buffer; target: Cancellable }>();

  issue(target: Cancellable): CancelKey {
    let pid: number;
    do pid = randomBytes(4).readInt32BE(0) & 0x7fffffff;
    while (pid === 0 || this.byPid.has(pid));
    const secretKey = randomBytes(4);
    this.byPid.set(pid, { key: secretKey, target });
    return { pid, secretKey };
  }

  release(pid: number) {
    this.byPid.delete(pid);
  }

  /** Returns true when the key matched (for tests); callers never tell the client either way. */
  cancel(pid: number, secretKey: Buffer): boolean {
    const hit = this.byPid.get(pid);
    if (!hit || hit.key.length !== secretKey.length || !timingSafeEqual(hit.key, secretKey)) return false;
    hit.target.cancel();
    return true;
  }
}

/** Fire-and-forget CancelRequest to the upstream with its own key (over TLS if the session is). */
export function sendUpstreamCancel(address: { host: string; port: number; tls: boolean }, key: CancelKey): void {
  const packet = build.cancelRequest(key.pid, key.secretKey);
  const s = net.connect({ host: address.host, port: address.port });
  s.setTimeout(5_000, () => s.destroy());
  s.on("error", () => s.destroy());
  s.once("connect", () => {
    if (!address.tls) {
      s.end(packet);
      return;
    }
    s.write(build.sslRequest());
    s.once("data", (d: Buffer) => {
      if (d[0] !== 0x53) return s.destroy();
      const t = tls.connect({ socket: s, rejectUnauthorized: false }, () => t.end(packet));
      t.on("error", () => t.destroy());
    });
  });
}
