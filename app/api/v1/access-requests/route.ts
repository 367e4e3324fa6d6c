import { getDb } from "@/db/client";
import { jsonBody, route } from "@/lib/http/route";
import { requestAccess } from "@/lib/services/access/request";

/**
 * Body: { connection: string, durationSeconds: 60..86400, reason: string (≤ 2000), wait?: 0..60 }.
 * With wait > 0 the call returns as soon as the request is decided (or after `wait` seconds).
 */
export const POST = route("approvals:request", async (req, caller) => requestAccess(await getDb(), caller, await jsonBody(req), req.signal));
