import { getDb } from "@/db/client";
import { jsonBody, route } from "@/lib/http/route";
import { mintTicket } from "@/lib/services/tokens/ticket";

export const POST = route("gateway:use", async (req, caller) => mintTicket(await getDb(), caller, await jsonBody(req)));
