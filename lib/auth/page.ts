import { forbidden, redirect } from "next/navigation";
import { can, type Permission } from "./authorize";
import { callerFromServerComponent } from "./session";

/** First line of every console page: signed in, and allowed this page's permission. */
export async function requirePage(permission: Permission, path: string) {
  const caller = await callerFromServerComponent();
  if (!caller) redirect(`/login?callbackUrl=${encodeURIComponent(path)}`);
  if (!can(caller, permission)) forbidden();
  return caller;
}
