import { getDb } from "@/db/client";
import { listConnections } from "@/db/queries/connections";
import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { toPublicConnection } from "@/lib/services/connections/public";
import { ConnectionsClient } from "./client";

export default async function ConnectionsPage() {
  const caller = await requirePage("connections:read", "/connections");
  const initial = (await listConnections(await getDb())).map(toPublicConnection);
  return <ConnectionsClient initial={initial} canWrite={can(caller, "connections:write")} />;
}
