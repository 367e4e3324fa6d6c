import type { Principal, Role } from "@/lib/gateway/core/types";

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
}

export const SYSTEM: Pick<Caller, "userId" | "email"> = { userId: "", email: "system" };
