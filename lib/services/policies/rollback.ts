import { z } from "zod";
import type { Db } from "@/db/client";
import { getPolicyVersion } from "@/db/queries/policies";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";
import { serialId } from "@/lib/util/serial-id";
import { savePolicies } from "./save";

/** Rolling back saves the old text as a new version, so history only ever grows. */
export async function rollbackPolicies(db: Db, caller: Caller | null, input: unknown) {
  authorize(caller, "policies:write");
  const { version } = z.object({ version: serialId }).parse(input);
  const old = await getPolicyVersion(db, version);
  if (!old) throw new GatehouseError("NOT_FOUND", `no policy version ${version}`);
  return savePolicies(db, caller, { text: old.text, comment: `rollback to v${version}` });
}
