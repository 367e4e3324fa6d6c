import type { Connection } from "ssh2";

/** SSH_MSG_DISCONNECT and SSH_DISCONNECT_BY_APPLICATION (RFC 4253 §11.1) */
const MSG_DISCONNECT = 1;
const BY_APPLICATION = 11;

interface PacketWriter {
  allocStartKEX: number;
  alloc(length: number, force: boolean): Buffer;
  finalize(packet: Buffer, force: boolean): Buffer;
}
interface Protocol {
  _packetRW?: { write?: PacketWriter };
  _cipher?: { encrypt(packet: Buffer): void };
}

/**
 * Ends the connection with a DISCONNECT that says why. OpenSSH prints its description whatever
 * the client's LogLevel ("Received disconnect from HOST port N:11: <description>"), while a
 * banner or keyboard-interactive text shows only at INFO and above; ssh2's own disconnect()
 * sends no description. So the packet is written here, through ssh2's packet writer and cipher
 * as its disconnect() does; should those internals ever be missing, the connection just ends.
 */
export function disconnectWithReason(client: Connection, description: string) {
  const protocol = (client as unknown as { _protocol?: Protocol })._protocol;
  const writer = protocol?._packetRW?.write;
  try {
    if (writer && protocol?._cipher) {
      const text = Buffer.from(description, "utf8");
      const packet = writer.alloc(1 + 4 + 4 + text.length + 4, true);
      let p = writer.allocStartKEX;
      packet[p++] = MSG_DISCONNECT;
      p = packet.writeUInt32BE(BY_APPLICATION, p);
      p = packet.writeUInt32BE(text.length, p);
      p += text.copy(packet, p);
      packet.writeUInt32BE(0, p); // language tag ""
      protocol._cipher.encrypt(writer.finalize(packet, true));
    }
  } finally {
    client.end();
  }
}
