"use client";
import { signIn } from "next-auth/react";
import { useEffect, useRef, useState } from "react";
import { Button, ErrorText, Field, Input } from "@/components/ui";

const MESSAGES: Record<string, string> = {
  CredentialsSignin: "Wrong email or password.",
  RATE_LIMITED: "Too many failed attempts. Try again in 15 minutes.",
  AccessDenied: "Your account is disabled or not allowed.",
  SamlRefused: "The identity provider's answer was refused. Try again; if it keeps failing, ask an admin to check the audit log.",
};

interface Props {
  callbackUrl: string;
  error?: string;
  oidcName: string | null;
  samlName: string | null;
  /** back from the SAML ACS: finish the sign-in with the login code it left in a cookie */
  samlPending?: boolean;
}

export function LoginForm({ callbackUrl, error, oidcName, samlName, samlPending }: Props) {
  const [busy, setBusy] = useState(!!samlPending);
  const [message, setMessage] = useState(error ? MESSAGES[error] ?? "Sign-in failed." : "");
  const started = useRef(false);

  useEffect(() => {
    if (!samlPending || started.current) return;
    started.current = true;
    signIn("saml", { redirect: false, callbackUrl }).then((res) => {
      if (res && !res.error) return window.location.assign(callbackUrl);
      setBusy(false);
      setMessage(MESSAGES.SamlRefused);
    });
  }, [samlPending, callbackUrl]);

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setMessage("");
    const res = await signIn("credentials", { email: form.get("email"), password: form.get("password"), redirect: false, callbackUrl });
    setBusy(false);
    if (!res || res.error) return setMessage(MESSAGES[res?.error ?? ""] ?? "Sign-in failed.");
    window.location.assign(callbackUrl);
  }

  return (
    <div className="space-y-4">
      <form onSubmit={submit} className="space-y-3">
        <Field label="Email">
          <Input name="email" type="email" autoComplete="username" required autoFocus />
        </Field>
        <Field label="Password">
          <Input name="password" type="password" autoComplete="current-password" required />
        </Field>
        <ErrorText error={message || null} />
        <Button type="submit" disabled={busy} className="w-full">
          {busy ? "Signing in…" : "Sign in"}
        </Button>
      </form>
      {samlName && (
        <Button variant="secondary" className="w-full" disabled={busy} onClick={() => window.location.assign(`/api/auth/saml/login?callbackUrl=${encodeURIComponent(callbackUrl)}`)}>
          {samlPending && busy ? `Signing in with ${samlName}…` : `Sign in with ${samlName}`}
        </Button>
      )}
      {oidcName && (
        <Button variant="secondary" className="w-full" onClick={() => signIn("oidc", { callbackUrl })}>
          Sign in with {oidcName}
        </Button>
      )}
    </div>
  );
}
