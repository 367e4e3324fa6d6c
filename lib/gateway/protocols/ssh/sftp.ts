import type { ClientChannel as UpstreamChannel, ServerChannel } from "ssh2";
import type { GatewaySession } from "@/lib/gateway/core/session";
import { SftpRequests, type SftpEvent } from "./sftp-requests";
import { FX_OP_UNSUPPORTED, FX_PERMISSION_DENIED, Reader, SFTP_VERSION, statusPacket, swapSymlinkPaths, T, V3_REQUESTS } from "./sftp-wire";
import { changedOnHost, type UpstreamPaths } from "./upstream-paths";

/**
 * SFTP pass-through with inspection. ssh2 has no raw SFTP proxy, so the gateway relays the
 * subsystem's bytes itself and parses the packet framing (uint32 length, type, request id) in
 * both directions. Every request that changes the remote file system (open for writing,
 * remove, rename, mkdir, rmdir, setstat, symlink, unknown extensions) is decided by policy
 * before it is forwarded; a refusal is answered to the client as SSH_FX_PERMISSION_DENIED with
 * the reason, and a hold parks the packet stream (in order) until the approver decides.
 * Opening a file for reading is decided too (action read), as `unmaskable`: file contents cannot
 * be masked (an SFTP read returns byte ranges of files that may be binary), so where masking
 * applies to the reader (agents, by the default policies) the core refuses the open rather than
 * let the bytes leak; `cat` through exec is masked instead. Listings and stat are recorded, not
 * decided.
 */
const MAX_PACKET = 1 << 20; // OpenSSH sends ≤ 256 KiB; anything far larger is an attack or a bug
/**
 * Packets waiting behind a decision (an approver may take hours) are held in memory: past this
 * many bytes the client channel is paused, so the SSH window closes and the client waits, rather
 * than one client filling the gateway's memory.
 */
const MAX_QUEUED = 4 << 20;

export class SftpRelay {
  private fromClient: Buffer = Buffer.alloc(0);
  private fromServer: Buffer = Buffer.alloc(0);
  private queue: Buffer[] = [];
  private queued = 0;
  /** paused because the upstream channel is full / because too much waits in the queue */
  private upstreamFull = false;
  private queueFull = false;
  private busy = false;
  /** the client sent EOF: the upstream gets it once every packet before it has gone upstream */
  private clientEnded = false;
  private upstreamEnded = false;
  private closed = false;
  /** the client's INIT went upstream (once: a second one is a protocol error) */
  private initialised = false;
  /** what the packets ask, read both ways */
  private readonly requests: SftpRequests;
  /** the channel closed: a request still held for approval is given up (the connection may live on) */
  private readonly gone = new AbortController();

  constructor(
    private readonly gw: GatewaySession,
    private readonly ch: number,
    private readonly client: ServerChannel,
    private readonly upstream: UpstreamChannel,
    /** where a written path leads on the host (a symlink already there, a home outside /home) */
    private readonly paths: UpstreamPaths,
    /** the client orders SYMLINK's paths otherwise than the host reads them (sftp-wire.ts symlinkNeedsSwap) */
    private readonly swapSymlink = false,
  ) {
    this.requests = new SftpRequests((e) => this.record(e));
  }

  start() {
    const { client, upstream } = this;
    client.on("data", (d: Buffer) => this.onClientData(d));
    upstream.on("data", (d: Buffer) => this.onServerData(d));
    upstream.on("drain", () => {
      this.upstreamFull = false;
      this.resumeClient();
    });
    client.on("drain", () => upstream.resume());
    client.on("end", () => {
      this.clientEnded = true;
      this.endUpstreamWhenSent();
    });
    client.on("close", () => this.close());
    // scp (sftp mode) checks the subsystem's exit status. ssh2 drops exit-status on a channel
    // already ended, so the status is sent first, at close, and then the client side is ended.
    let exit: { code: number | null; signal?: string } | undefined;
    upstream.on("exit", (code: number | null, signal?: string) => (exit = { code, signal }));
    upstream.stderr.on("data", (d: Buffer) => client.stderr.write(d));
    upstream.on("close", () => {
      if (exit?.signal) client.exit(exit.signal, false, "");
      else if (exit) client.exit(exit.code ?? 255);
      this.close();
      client.end();
    });
  }

  private close() {
    if (this.closed) return;
    this.closed = true;
    this.gone.abort();
    this.requests.closeAll();
    this.upstream.close();
  }

  private record(e: SftpEvent) {
    this.gw.recorder.record("sftp", { ch: this.ch, ...e });
  }

  private onClientData(d: Buffer) {
    // after a protocol error the channel is closing; what the client still sends is dropped, unrecorded
    if (this.closed) return;
    this.fromClient = this.fromClient.length ? Buffer.concat([this.fromClient, d]) : d;
    while (this.fromClient.length >= 4) {
      const len = this.fromClient.readUInt32BE(0);
      if (len < 1 || len > MAX_PACKET) return this.protocolError(`client sent an SFTP packet of ${len} bytes`);
      if (this.fromClient.length < 4 + len) break;
      this.queue.push(this.fromClient.subarray(0, 4 + len));
      this.queued += 4 + len;
      this.fromClient = this.fromClient.subarray(4 + len);
    }
    if (this.queued + this.fromClient.length > MAX_QUEUED && !this.queueFull) {
      this.queueFull = true;
      this.client.pause();
    }
    this.pump();
  }

  private resumeClient() {
    if (this.queueFull && this.queued + this.fromClient.length <= MAX_QUEUED / 2) this.queueFull = false;
    if (!this.upstreamFull && !this.queueFull) this.client.resume();
  }

  /** Records the error once and ends the channel; later errors on a closed relay are not recorded again. */
  private protocolError(why: string) {
    if (this.closed) return;
    this.record({ op: "error", path: "", status: why });
    this.client.close();
    this.close();
  }

  /** Packets are handled strictly in order; only a decision makes the pump wait. */
  private pump() {
    if (this.busy) return;
    this.busy = true;
    const step = async () => {
      while (this.queue.length && !this.closed) {
        let packet = this.queue.shift()!;
        this.queued -= packet.length;
        if (this.queueFull) this.resumeClient();
        const type = packet[4];
        if ((type === T.INIT) === this.initialised) return this.protocolError(type === T.INIT ? "client sent a second SFTP INIT" : `client sent SFTP request type ${type} before INIT`);
        if (type === T.INIT) packet = this.negotiate(packet);
        else if (!V3_REQUESTS.has(type)) {
          const id = new Reader(packet, 5).u32();
          this.record({ op: `type ${type}`, path: "", status: "refused: not an SFTP version 3 request" });
          this.reply(id, FX_OP_UNSUPPORTED, `gatehouse: SFTP request type ${type} is not supported (SFTP version 3 only)`);
          continue;
        }
        // before it is read for policy and the recording: judged and recorded as the host will make it
        if (type === T.SYMLINK && this.swapSymlink) packet = swapSymlinkPaths(packet);
        const request = this.requests.inspect(packet);
        if (request) {
          const req = await this.paths.judge(request.req, request.paths);
          if (this.closed) break;
          const decision = await this.gw.decide(req, { signal: this.gone.signal });
          if (this.closed) break;
          // asked again right before it goes upstream: a link swapped in while it waited (terminal-channel.ts)
          const changed = decision.type === "allow" ? changedOnHost(req, await this.paths.judge(request.req, request.paths)) : null;
          if (this.closed) break;
          if (decision.type === "deny" || changed) {
            const reason = decision.type === "deny" ? decision.reason : changed;
            this.requests.answered(request.id);
            this.record({ ...request.event, status: `denied: ${reason}` });
            this.reply(request.id, FX_PERMISSION_DENIED, `gatehouse: denied: ${reason}`);
            continue;
          }
          if (decision.approvalId) this.record({ ...request.event, status: `approved #${decision.approvalId}` });
        }
        if (!this.upstream.write(packet)) {
          this.upstreamFull = true;
          this.client.pause();
        }
      }
    };
    step()
      .catch((err) => this.protocolError(err instanceof RangeError ? "malformed SFTP packet from the client" : `sftp relay failed: ${(err as Error).message}`))
      .finally(() => {
        this.busy = false;
        if (this.queue.length && !this.closed) this.pump();
        else this.endUpstreamWhenSent();
      });
  }

  /**
   * The client's EOF, passed on after the packets it sent before it: requests still waiting for
   * a decision (a write is judged on the host first) would otherwise be written after the
   * upstream channel's end and lost, where sshd answers everything a client sent before its EOF
   * (`ssh -s host sftp < requests`).
   */
  private endUpstreamWhenSent() {
    if (!this.clientEnded || this.upstreamEnded || this.busy || this.queue.length || this.closed) return;
    this.upstreamEnded = true;
    this.upstream.end();
  }

  /** The client's INIT, asking for version 3 whatever it asked for (its extension pairs kept). */
  private negotiate(init: Buffer): Buffer {
    this.initialised = true;
    const asked = new Reader(init, 5).u32();
    if (asked === SFTP_VERSION) return init;
    this.record({ op: "init", path: "", flags: `version ${asked}`, status: `offered version ${SFTP_VERSION}` });
    const clamped = Buffer.from(init);
    clamped.writeUInt32BE(SFTP_VERSION, 5);
    return clamped;
  }

  private reply(id: number, code: number, message: string) {
    this.client.write(statusPacket(id, code, message));
  }

  private onServerData(d: Buffer) {
    if (this.closed) return;
    this.fromServer = this.fromServer.length ? Buffer.concat([this.fromServer, d]) : d;
    let offset = 0;
    while (this.fromServer.length - offset >= 5) {
      const len = this.fromServer.readUInt32BE(offset);
      if (len > MAX_PACKET) {
        this.protocolError(`upstream sent an SFTP packet of ${len} bytes`);
        return;
      }
      if (this.fromServer.length - offset < 4 + len) break;
      try {
        const wrong = this.requests.observeReply(this.fromServer.subarray(offset, offset + 4 + len));
        if (wrong) this.protocolError(wrong);
      } catch {
        this.protocolError("malformed SFTP packet from upstream");
      }
      if (this.closed) return;
      offset += 4 + len;
    }
    // Forward whole packets only; parsing only observes (a VERSION other than 3 closed the relay
    // above). A reply the gateway writes itself (a refusal, "unsupported") must land between two
    // packets: forwarded as they came, the first part of a large DATA reply would be followed by
    // the gateway's STATUS and then the rest, and the client would read garbage from there on.
    const whole = this.fromServer.subarray(0, offset);
    this.fromServer = this.fromServer.subarray(offset);
    if (whole.length && !this.client.write(whole)) this.upstream.pause();
  }

}

