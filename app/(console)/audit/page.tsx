import { requirePage } from "@/lib/auth/page";
import { AuditClient } from "./client";

export default async function AuditPage() {
  await requirePage("audit:read", "/audit");
  return <AuditClient />;
}
