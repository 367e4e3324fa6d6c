import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { ApprovalsClient } from "./client";

export default async function ApprovalsPage() {
  const caller = await requirePage("approvals:read", "/approvals");
  return <ApprovalsClient canDecide={can(caller, "approvals:decide")} />;
}
