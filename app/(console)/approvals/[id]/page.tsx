import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { ApprovalDetailClient } from "./client";

/** The link in "held for approval #N: <url>" notices and webhooks lands here. */
export default async function ApprovalPage({ params }: { params: Promise<{ id: string }> }) {
  const caller = await requirePage("approvals:read", "/approvals");
  const { id } = await params;
  return <ApprovalDetailClient id={Number(id)} canDecide={can(caller, "approvals:decide")} />;
}
