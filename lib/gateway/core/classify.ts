import type { ClassifiedRequest } from "./types";

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

/** An unknown statement is asked as `write` with kind unknown (see lib/gateway/policy/README.md). */
export function actionOf(kind: ClassifiedRequest["kind"]): ClassifiedRequest["action"] {
  return kind === "unknown" ? "write" : kind === "interactive" ? "exec" : kind;
}
