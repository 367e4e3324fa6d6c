import { PageHeader } from "@/components/ui";
import { requirePage } from "@/lib/auth/page";

export default async function SessionsPage() {
  await requirePage("sessions:read-own", "/sessions");
  return (
    <div>
      <PageHeader title="Sessions" description="Live and past sessions through every gateway, with live view and replay." />
      <p className="text-sm text-slate-600">No protocol gateway is running in this build yet, so there are no sessions to show. See the README's “Not supported yet”.</p>
    </div>
  );
}
