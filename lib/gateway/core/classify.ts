import type { ClassifiedRequest } from "./types";
import type { UpstreamTarget } from "./upstream";

/**
 * Turns request text into a ClassifiedRequest for a connection type. SQL goes through the real
 * PostgreSQL parser; anything the gateway cannot classify is `unknown`, which policy holds or
 * denies — never reads.
 */
export async function classifyForConnection(type: string, text: string): Promise<ClassifiedRequest> {
  if (type === "postgres") {
    const { classifySql, initClassifier } = await import("@/lib/gateway/protocols/postgres/classify");
    const { withoutSecrets } = await import("@/lib/gateway/protocols/postgres/classify/secrets");
    await initClassifier();
    const c = classifySql(text);
    const shown = withoutSecrets(text);
    return { action: actionOf(c.kind), kind: c.kind, tables: c.tables, functions: c.functions, text, ...(shown ? { shown } : {}) };
  }
  if (type === "ssh" || type === "kubernetes") return { action: "exec", kind: "unknown", tables: [], functions: [], text };
  if (type === "http") return { action: "http", kind: "unknown", tables: [], functions: [], text };
  return { action: "write", kind: "unknown", tables: [], functions: [], text };
}

/**
 * classifyForConnection as a gateway finishes it with the upstream: a PostgreSQL statement that
 * runs code written in the database is `unknown` (protocols/postgres/user-code.ts), which only
 * the database's catalog tells; `userCode` says why (the catalog unreadable counts: fail closed).
 */
export async function classifyAtUpstream(target: UpstreamTarget, text: string): Promise<{ request: ClassifiedRequest; userCode: string | null }> {
  const request = await classifyForConnection(target.ref.type, text);
  if (target.ref.type !== "postgres") return { request, userCode: null };
  const { metadataFor } = await import("@/lib/gateway/protocols/postgres/metadata");
  const { withUserCodeWhy } = await import("@/lib/gateway/protocols/postgres/user-code");
  const { request: seen, why } = await withUserCodeWhy(metadataFor(target), request);
  return { request: seen, userCode: why };
}

/** An unknown statement is asked as `write` with kind unknown (see lib/gateway/policy/README.md). */
export function actionOf(kind: ClassifiedRequest["kind"]): ClassifiedRequest["action"] {
  return kind === "unknown" ? "write" : kind === "interactive" ? "exec" : kind;
}
