import type { Principal, Role } from "@/lib/gateway/core/types";
import type { SignIn } from "./sign-in";

/** Who is asking: a console user (cookie session) or a bearer-token holder (CLI, agents). */
export interface Caller {
  userId: string;
  email: string;
  role: Role;
  groups: string[];
  via: "session" | "token";
  /** set when via = token: the token's principal (chain, scope) */
  principal?: Principal;
  /** set when via = session: when the console cookie stops being valid (its `exp`) */
  sessionExpiresAt?: Date;
  /** set when via = session: how it was signed in (a password, or which identity link) */
  signIn?: SignIn;
}

export const SYSTEM: Pick<Caller, "userId" | "email"> = { userId: "", email: "system" };
