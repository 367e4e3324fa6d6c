import { PageHeader } from "@/components/ui";
import { requirePage } from "@/lib/auth/page";

export default async function MaskingPage() {
  await requirePage("masking:read", "/masking");
  return (
    <div>
      <PageHeader title="Masking" description="Rules that mask sensitive values inline before any client sees them." />
      <p className="text-sm text-slate-600">The masking rule editor is not built yet. See the README's “Not supported yet”.</p>
    </div>
  );
}
