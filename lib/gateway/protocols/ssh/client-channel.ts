import type { Socket } from "node:net";
import type { Connection, ServerChannel, Session } from "ssh2";
import type { ClientSide } from "./terminal-channel";

/** ssh2 server channels as the rest of the SSH gateway uses them (connection.ts). */

/**
 * Makes the socket's writes within one tick go out as one writev. Bulk output arrives as socket
 * reads holding two or more 32 KiB packets, each decrypted and re-encrypted for the client; written
 * one by one, each would cost its own syscall and loopback delivery. Uncorked in the same tick:
 * nothing waits (keystroke echoes included).
 *
 * The socket's own reads are batched too: once the client's window is full, relayed output waits
 * in ssh2's channel, and the client's WINDOW_ADJUST (a read) releases it packet by packet, each
 * written as ssh2 parses the read, one syscall each (in a profile of a bulk transfer, two thirds
 * of the time spent writing to the client's socket).
 */
export function writeBatcher(sock: Socket | undefined): () => void {
  let corked = false;
  const batch = () => {
    if (corked || !sock || sock.destroyed) return;
    corked = true;
    sock.cork();
    process.nextTick(() => {
      corked = false;
      sock.uncork();
    });
  };
  // before ssh2's own listener, whenever that was added: the writes its parsing makes are batched
  sock?.prependListener("data", batch);
  return batch;
}

/**
 * CHANNEL_FAILURE for a request on a session channel whose reject() ssh2 has disabled (the
 * channel already started), as RFC 4254 requires for a request that wants a reply.
 */
export function channelFailure(client: Connection, session: Session) {
  const id = (session as unknown as { _chanInfo?: { outgoing?: { id?: number } } })._chanInfo?.outgoing?.id;
  const protocol = (client as unknown as { _protocol?: { channelFailure(id: number): void } })._protocol;
  if (typeof id === "number") protocol?.channelFailure(id);
}

/** Adapts an ssh2 server channel to the ClientSide interface of TerminalChannel. */
export function clientSide(channel: ServerChannel, batch: () => void): ClientSide {
  return {
    write: (d) => {
      batch();
      return channel.write(d);
    },
    writeStderr: (d) => {
      batch();
      channel.stderr.write(d);
    },
    onData: (fn) => void channel.on("data", fn),
    onEof: (fn) => void channel.on("end", fn),
    onClose: (fn) => void channel.on("close", fn),
    onDrain: (fn) => void channel.on("drain", fn),
    pause: () => void channel.pause(),
    resume: () => void channel.resume(),
    exit: ({ code, signal, coreDumped }) => {
      if (signal) channel.exit(signal.replace(/^SIG/, ""), coreDumped === true, "");
      else channel.exit(code ?? 255);
    },
    end: () => void channel.end(),
  };
}
