import { PageHeader } from "@/components/ui";
import { requirePage } from "@/lib/auth/page";

export default async function PoliciesPage() {
  await requirePage("policies:read", "/policies");
  return (
    <div>
      <PageHeader title="Policies" description="Cedar policies decide every connection and every statement." />
      <p className="text-sm text-slate-600">The policy editor is not built yet. See the README's “Not supported yet”.</p>
    </div>
  );
}
