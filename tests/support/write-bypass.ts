import type { BackendMessage } from "@/lib/gateway/protocols/postgres/wire";
import type { WireClient } from "./pg-wire-client";

/**
 * Shared by the PostgreSQL write-bypass tests (postgres-write-bypass-property and -objects): a
 * connection whose policies permit only `connect` and `read`, and how one exchange through it ended.
 */
export const READ_ONLY_POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("read-only")
permit (principal, action == Gatehouse::Action::"read", resource);
`;

export type Outcome = "refused" | "error" | "allowed" | "closed";

/** refused by policy (42501), the session closed, another error, or allowed. */
export function outcomeOf(c: WireClient, got: BackendMessage[]): Outcome {
  const errors = got.filter((m): m is Extract<BackendMessage, { type: "ErrorResponse" }> => m.type === "ErrorResponse");
  if (errors.some((e) => e.fields.code === "42501")) return "refused";
  if (c.closed) return "closed";
  return errors.length ? "error" : "allowed";
}
