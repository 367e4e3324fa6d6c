import { z } from "zod";
import { getDb } from "@/db/client";
import { listSessions } from "@/db/queries/sessions";
import { can } from "@/lib/auth/authorize";
import { limitParam, parseQuery } from "@/lib/http/paging";
import { route } from "@/lib/http/route";
import { managedBranchOf } from "@/lib/auth/agent-branch";

const Paging = z.object({ limit: limitParam(200, 1000) });

/** Members see their own sessions (an agent or a narrowed token: its own branch's); auditors, approvers and admins see all. */
export const GET = route("sessions:read-own", async (req, caller) => {
  const p = new URL(req.url).searchParams;
  const all = can(caller, "sessions:read-all");
  const rows = await listSessions(await getDb(), {
    userId: all ? undefined : caller.userId,
    descendsFrom: managedBranchOf(caller) ?? undefined,
    status: p.get("status") ?? undefined,
    protocol: p.get("protocol") ?? undefined,
    connection: p.get("connection") ?? undefined,
    user: all ? (p.get("user")?.slice(0, 200) ?? undefined) : undefined,
    origin: p.get("origin") ?? undefined,
    q: p.get("q")?.slice(0, 200) ?? undefined,
    limit: parseQuery(req, Paging).limit,
  });
  return { sessions: rows };
});
