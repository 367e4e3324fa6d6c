import { readableSession } from "@/lib/http/session-access";
import { route } from "@/lib/http/route";

export const GET = route<{ id: string }>("sessions:read-own", async (_req, caller, { id }) => ({ session: await readableSession(caller, id) }));
