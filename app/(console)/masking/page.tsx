import { getDb } from "@/db/client";
import { listMaskingRules } from "@/db/queries/masking";
import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { DETECTORS } from "@/lib/gateway/masking/catalog";
import { MaskingClient } from "./client";

export default async function MaskingPage() {
  const caller = await requirePage("masking:read", "/masking");
  const rules = await listMaskingRules(await getDb());
  return <MaskingClient initial={rules.map((r) => ({ ...r, updatedAt: r.updatedAt.toISOString() }))} detectors={[...DETECTORS]} canWrite={can(caller, "masking:write")} />;
}
