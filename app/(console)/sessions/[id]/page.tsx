import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { SessionDetailClient } from "./client";

export default async function SessionPage({ params }: { params: Promise<{ id: string }> }) {
  const caller = await requirePage("sessions:read-own", "/sessions");
  const { id } = await params;
  return <SessionDetailClient id={id} canKill={can(caller, "sessions:kill")} />;
}
