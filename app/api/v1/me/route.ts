import { route } from "@/lib/http/route";

export const GET = route("connections:read", async (_req, caller) => ({
  id: caller.userId,
  email: caller.email,
  role: caller.role,
  groups: caller.groups,
  via: caller.via,
  chain: caller.principal?.chain,
}));
