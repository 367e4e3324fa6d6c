import type { Db, Tx } from "@/db/client";
import { linkedAt } from "@/db/queries/external-identities";

/** An external identity a console session came through: the link (issuer + subject) as it was when it signed in. */
export interface LinkRef {
  issuer: string;
  subject: string;
  /** when the link was made (ms): a link removed and made again is another link */
  linkedAt: number;
}

/**
 * How a console session was signed in, recorded in its cookie (`si`): with a password, or
 * through an external identity link (console OIDC, SAML). Unlinking an identity ends the sessions
 * that came through it and no others: a session through a link is good only while that very
 * link stands (lib/auth/session.ts). A cookie that does not say how it was signed in (one from
 * before sessions recorded it) is refused: it may have come through a link since removed.
 */
export type SignIn = { via: "password" } | ({ via: "oidc" | "saml" } & LinkRef);

export function throughLink(via: "oidc" | "saml", link: LinkRef): SignIn {
  return { via, issuer: link.issuer, subject: link.subject, linkedAt: link.linkedAt };
}

/** The sign-in a cookie's claim records, or null when it records none we can check. */
export function signInOf(claim: unknown): SignIn | null {
  if (!claim || typeof claim !== "object") return null;
  const c = claim as Record<string, unknown>;
  if (c.via === "password") return { via: "password" };
  if ((c.via === "oidc" || c.via === "saml") && typeof c.issuer === "string" && typeof c.subject === "string" && typeof c.linkedAt === "number") {
    return { via: c.via, issuer: c.issuer, subject: c.subject, linkedAt: c.linkedAt };
  }
  return null;
}

/** Whether what the session came through still lets it in: a password always, a link while it stands. */
export async function signInHolds(db: Db | Tx, userId: string, signIn: SignIn): Promise<boolean> {
  if (signIn.via === "password") return true;
  return (await linkedAt(db, userId, signIn)) === signIn.linkedAt;
}
