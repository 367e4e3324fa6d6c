import { loadConfig } from "@/lib/config/env";
import { safeCallbackPath } from "@/lib/http/callback-path";
import { LoginForm } from "./login-form";

export const dynamic = "force-dynamic";

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const params = await searchParams;
  const { oidc, saml } = loadConfig();
  return (
    <main className="flex min-h-full items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="text-xl font-semibold">Gatehouse</h1>
        <p className="mb-5 text-sm text-slate-600">Sign in to the access gateway console.</p>
        <LoginForm
          callbackUrl={safeCallbackPath(params.callbackUrl)}
          error={params.error}
          oidcName={oidc?.clientId ? oidc.name : null}
          samlName={saml?.name ?? null}
          samlPending={!!saml && params.saml === "1" && !params.error}
        />
      </div>
    </main>
  );
}
