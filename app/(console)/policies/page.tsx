import { getDb } from "@/db/client";
import { listConnections } from "@/db/queries/connections";
import { currentPolicy } from "@/db/queries/policies";
import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { PoliciesClient } from "./client";

export default async function PoliciesPage() {
  const caller = await requirePage("policies:read", "/policies");
  const db = await getDb();
  const current = await currentPolicy(db);
  const connections = (await listConnections(db)).map((c) => c.name);
  return (
    <PoliciesClient
      initialText={current?.text ?? ""}
      initialVersion={current?.version ?? 0}
      canWrite={can(caller, "policies:write")}
      connections={connections}
      me={caller.email}
    />
  );
}
