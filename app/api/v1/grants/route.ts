import { z } from "zod";
import { getDb } from "@/db/client";
import { listGrants } from "@/db/queries/approvals";
import { agentScopeOf } from "@/lib/auth/agent-branch";
import { route } from "@/lib/http/route";
import { grantLineage } from "@/lib/identity/grant-lineage";
import { seesAllApprovals } from "@/lib/services/approvals/visibility";

const grantsQuery = z.object({ active: z.enum(["0", "1"]).default("0") });

/**
 * Own grants (an agent: those that hold for it and those its branch asked for); approvers,
 * admins and auditors see everyone's. ?active=1 for unexpired, unrevoked only.
 */
export const GET = route("approvals:read", async (req, caller) => {
  const q = grantsQuery.parse(Object.fromEntries(new URL(req.url).searchParams));
  const agent = agentScopeOf(caller);
  const grants = await listGrants(await getDb(), {
    userId: seesAllApprovals(caller) ? undefined : caller.userId,
    agent: agent && caller.principal ? { tokenId: agent, lineage: grantLineage(caller.principal) } : undefined,
    activeOnly: q.active === "1",
  });
  const now = Date.now();
  // `actor`: the chain of the agent a grant holds for (and the agents it spawns); null: all the user's sessions.
  return { grants: grants.map(({ actorChain, ...g }) => ({ ...g, actor: actorChain ? actorChain.map((a) => a.name).join(" → ") : null, active: !g.revokedAt && g.expiresAt.getTime() > now })) };
});
