import type { Db } from "@/db/client";
import { getUserForSession } from "@/db/queries/users";
import { groupNamesOf } from "@/lib/identity/tokens";
import { GatehouseError, type Principal, type Role } from "./types";

/**
 * The principal of a person acting without a bearer token: SSH public-key login, the browser
 * terminal and SQL console (console cookie). The chain is the user alone, the scope is whatever
 * the user's role allows (policy still decides every request), and the user is re-read here so a
 * disabled account cannot start a session with a key or a still-open browser tab.
 */
export async function principalForUser(db: Db, userId: string): Promise<Principal> {
  const user = await getUserForSession(db, userId);
  if (!user) throw new GatehouseError("UNAUTHENTICATED", "unknown user");
  if (user.disabled) throw new GatehouseError("UNAUTHENTICATED", "account disabled");
  return {
    userId: user.id,
    email: user.email,
    role: user.role as Role,
    groups: await groupNamesOf(db, user.id),
    chain: [{ kind: "user", id: user.id, name: user.email }],
    tokenId: null,
    parentTokenId: null,
    credentialKind: "key",
    scopeConnections: ["*"],
    scopeActions: ["*"],
  };
}
