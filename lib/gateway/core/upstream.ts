import type { Db } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { open } from "@/lib/crypto/secrets";
import type { ConnectionRef } from "./types";

/** A connection as a gateway needs it: the policy view plus the decrypted upstream credential. */
export interface UpstreamTarget {
  ref: ConnectionRef;
  url: URL;
  username: string;
  /** decrypted only here, in the gateway process, for the upstream handshake; never logged */
  secret: string | null;
  options: Record<string, unknown>;
}

export async function loadUpstream(db: Db, name: string): Promise<UpstreamTarget | null> {
  const row = await getConnection(db, { name });
  if (!row) return null;
  return {
    ref: { id: row.id, name: row.name, type: row.type, tags: row.tags },
    url: new URL(row.upstream),
    username: row.username,
    secret: row.secretCiphertext ? open(row.secretCiphertext) : null,
    options: row.options,
  };
}
