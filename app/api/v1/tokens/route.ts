import { getDb } from "@/db/client";
import { listTokens } from "@/db/queries/tokens";
import { managedBranchOf } from "@/lib/auth/agent-branch";
import { can } from "@/lib/auth/authorize";
import { jsonBody, route } from "@/lib/http/route";
import { createPersonalToken } from "@/lib/services/tokens/create";
import { revokeToken } from "@/lib/services/tokens/revoke";

/**
 * Own tokens; admins may pass ?all=1. An agent (or a narrowed script token) lists its own token
 * and those it delegated, not its human's or a sibling's (the same branch it may revoke). Hashes never leave the server.
 */
export const GET = route("tokens:own", async (req, caller) => {
  const url = new URL(req.url);
  const all = url.searchParams.get("all") === "1" && can(caller, "tokens:any");
  const rows = await listTokens(await getDb(), {
    userId: all ? undefined : caller.userId,
    branch: managedBranchOf(caller) ?? undefined,
    includeRevoked: url.searchParams.get("revoked") === "1",
  });
  return { tokens: rows };
});

export const POST = route("tokens:own", async (req, caller) => createPersonalToken(await getDb(), caller, await jsonBody(req)));

/** Revoke by presenting the token itself (`gatehouse tokens revoke --token T`). */
export const DELETE = route("tokens:own", async (req, caller) => {
  const body = (await jsonBody(req)) as { token?: unknown };
  return revokeToken(await getDb(), caller, { token: typeof body.token === "string" ? body.token : undefined });
});
