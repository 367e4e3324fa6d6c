import { PageHeader } from "@/components/ui";
import { requirePage } from "@/lib/auth/page";

export default async function ApprovalsPage() {
  await requirePage("approvals:read", "/approvals");
  return (
    <div>
      <PageHeader title="Approvals" description="Held statements and just-in-time access requests waiting for an approver." />
      <p className="text-sm text-slate-600">The approval queue is not built yet. See the README's “Not supported yet”.</p>
    </div>
  );
}
