"use client";
import { signIn } from "next-auth/react";
import { useState } from "react";
import { Button, ErrorText, Field, Input } from "@/components/ui";

const MESSAGES: Record<string, string> = {
  CredentialsSignin: "Wrong email or password.",
  RATE_LIMITED: "Too many failed attempts. Try again in 15 minutes.",
  AccessDenied: "Your account is disabled or not allowed.",
};

export function LoginForm({ callbackUrl, error, oidcName }: { callbackUrl: string; error?: string; oidcName: string | null }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState(error ? MESSAGES[error] ?? "Sign-in failed." : "");

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
      {oidcName && (
        <Button variant="secondary" className="w-full" onClick={() => signIn("oidc", { callbackUrl })}>
          Sign in with {oidcName}
        </Button>
      )}
    </div>
  );
}
