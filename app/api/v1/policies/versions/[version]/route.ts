import { getDb } from "@/db/client";
import { getPolicyVersion } from "@/db/queries/policies";
import { GatehouseError } from "@/lib/gateway/core/types";
import { route } from "@/lib/http/route";
import { lineDiff } from "@/lib/util/line-diff";
import { parseSerialId } from "@/lib/util/serial-id";

/** One version with its diff against the version before it. */
export const GET = route<{ version: string }>("policies:read", async (_req, _caller, params) => {
  const n = parseSerialId(params.version);
  if (n === null) throw new GatehouseError("INVALID", "version must be a positive integer");
  const db = await getDb();
  const row = await getPolicyVersion(db, n);
  if (!row) throw new GatehouseError("NOT_FOUND", `no policy version ${n}`);
  const prev = n > 1 ? await getPolicyVersion(db, n - 1) : null;
  return { version: row, diff: lineDiff(prev?.text ?? "", row.text) };
});
