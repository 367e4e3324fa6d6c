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

/** How long the simulator waits for the catalog: an upstream that drops packets must not hang it (connect_timeout is 10 s per lookup). */
const CATALOG_WAIT_MS = 3000;

/** What the upstream's catalog added to a classification (classifyAtUpstream). */
export interface UpstreamFindings {
  /** why the statement is unknown: it runs code written in the database; null when it does not */
  userCode: string | null;
  /** set when the catalog could not be read: the answer is the text's alone */
  unread?: string;
}

/**
 * classifyForConnection as a gateway finishes it with the upstream: a PostgreSQL statement that
 * runs code written in the database is `unknown` (protocols/postgres/user-code.ts), which only
 * the database's catalog tells. For the policy simulator: where the gateway takes a catalog it
 * cannot read as unknown (fail closed), this says so and answers from the text (an upstream not
 * reachable from here, or not there yet, is no answer about the policy).
 */
export async function classifyAtUpstream(target: UpstreamTarget, text: string): Promise<{ request: ClassifiedRequest; upstream?: UpstreamFindings }> {
  const request = await classifyForConnection(target.ref.type, text);
  if (target.ref.type !== "postgres") return { request };
  const { metadataFor } = await import("@/lib/gateway/protocols/postgres/metadata");
  const { asUnknown, userCodeCalled } = await import("@/lib/gateway/protocols/postgres/user-code");
  const { withCatalogTables } = await import("@/lib/gateway/protocols/postgres/catalog-tables");
  const metadata = metadataFor(target);
  try {
    const found = await withinWait(
      (async () => {
        // The tables as the gateway completes them from the catalog (every spelling's, a view's).
        const named = await withCatalogTables(request, (ref) => metadata.relations(ref));
        if (named.kind === "unknown" || !metadata.mayHaveUserCode()) return { named, why: null };
        const why = await userCodeCalled(text, metadata, () => null, request.kind);
        return { named: why ? asUnknown(named, why) : named, why };
      })(),
    );
    return { request: found.named, upstream: { userCode: found.why } };
  } catch (err) {
    console.warn(`[simulate] the catalog of ${target.ref.name} could not be read: ${(err as Error).message}`);
    return { request, upstream: { userCode: null, unread: "the upstream catalog could not be read: answered from the statement's text alone (the gateway takes such a statement as unknown)" } };
  }
}

/** `lookup`'s answer, or a rejection after CATALOG_WAIT_MS (the lookup may still fail later: ignored). */
async function withinWait<T>(lookup: Promise<T>): Promise<T> {
  lookup.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CATALOG_WAIT_MS} ms`)), CATALOG_WAIT_MS)));
  return Promise.race([lookup, late]).finally(() => clearTimeout(timer));
}

/** An unknown statement is asked as `write` with kind unknown (see lib/gateway/policy/README.md). */
export function actionOf(kind: ClassifiedRequest["kind"]): ClassifiedRequest["action"] {
  return kind === "unknown" ? "write" : kind === "interactive" ? "exec" : kind;
}
