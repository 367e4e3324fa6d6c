import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { SessionsClient } from "./client";

export default async function SessionsPage() {
  const caller = await requirePage("sessions:read-own", "/sessions");
  return <SessionsClient all={can(caller, "sessions:read-all")} />;
}
