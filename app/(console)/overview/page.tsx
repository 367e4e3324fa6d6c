import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { OverviewClient } from "./client";

export default async function OverviewPage() {
  const caller = await requirePage("sessions:read-own", "/overview");
  return <OverviewClient all={can(caller, "sessions:read-all")} />;
}
