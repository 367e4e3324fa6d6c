import { getDb } from "@/db/client";
import { clientAddressOf } from "@/lib/http/client-address";
import { jsonBody, publicRoute } from "@/lib/http/route";
import { loginWithPassword } from "@/lib/services/tokens/login";

/** `gatehouse login`: public by nature; throttled per account and per address. */
export const POST = publicRoute(async (req) => loginWithPassword(await getDb(), await jsonBody(req), clientAddressOf(req.headers)));
