import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { classifyForConnection } from "@/lib/gateway/core/classify";
import { GatehouseError } from "@/lib/gateway/core/types";
import type { Masker, MaskingRule } from "@/lib/gateway/masking";
import { classifySql, preparedDefinitions } from "@/lib/gateway/protocols/postgres/classify";
import { catalogChanged, mayChangeCatalog } from "@/lib/gateway/protocols/postgres/catalog-changes";
import { inferenceRefusalThroughViews } from "@/lib/gateway/protocols/postgres/inference";
import { metadataFor } from "@/lib/gateway/protocols/postgres/metadata";
import { maskServerFields } from "@/lib/gateway/protocols/postgres/server-messages";
import { refusedStore } from "@/lib/gateway/protocols/postgres/stored-sources";
import { withUserCode } from "@/lib/gateway/protocols/postgres/user-code";
import { errorResult, safely, textResult, type McpContext } from "../context";
import { runGatewayCall } from "../gateway-call";
import { MAX_RESULT_BYTES, MAX_ROWS, runSqlUpstream, sampleOf, SqlCancelled, statementTimeoutMs, type SqlOutcome } from "../sql-exec";
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, notifier } from "./shared";

const input = {
  connection: z.string().min(1).max(128).describe("connection name, as list_connections shows it"),
  sql: z.string().min(1).max(100_000).describe("the SQL to run; several statements are allowed without params"),
  params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).max(1000).optional().describe("values for $1, $2, ... (single statement only)"),
  wait_seconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional().describe(`if held for approval, how long this call waits for the decision (default ${DEFAULT_WAIT_SECONDS})`),
};

/**
 * run_sql: classify with the real PostgreSQL parser, decide, run on allow. The text that runs
 * upstream is byte-for-byte the text that was classified, decided and (if held) approved, with
 * the same parameters, so an approval binds exactly what executes.
 */
export function registerRunSql(server: McpServer, ctx: McpContext) {
  server.registerTool(
    "run_sql",
    {
      title: "Run SQL",
      description:
        `Runs SQL on a postgres connection through Gatehouse. Policy may allow, mask (values come back masked), deny, or hold the statement for a human approver. ` +
        `Returns up to ${MAX_ROWS} rows per result and ${MAX_RESULT_BYTES / (1 << 20)} MiB of values in all as JSON (truncated: true beyond); statements time out after ${statementTimeoutMs() / 1000} s. ` +
        `If it stays held longer than wait_seconds, the result says "held for approval #N": call wait_for_approval with that id.`,
      inputSchema: input,
    },
    (args, extra) =>
      safely("run_sql", async () => {
        // PostgreSQL reads a Query as a C string: it would run only what precedes a NUL, while the
        // text decided, shown to an approver and recorded is the whole. No client can send one.
        if (args.sql.includes("\0")) return errorResult("DENIED: the SQL contains a NUL byte");
        const params = args.params?.map((p) => (p === null ? null : String(p)));
        let prepared: (name: string) => string | null = () => null;
        return runGatewayCall(ctx, {
          tool: "run_sql",
          connection: args.connection,
          type: "postgres",
          waitSeconds: args.wait_seconds ?? DEFAULT_WAIT_SECONDS,
          notify: notifier(extra),
          signal: extra.signal,
          requestId: extra.requestId,
          // Code written in the database may write whatever the text says (user-code.ts withUserCode).
          classify: async (target) => {
            // classifyForConnection first: it loads the parser that preparedIn and the inference check use
            const classified = await classifyForConnection("postgres", args.sql);
            prepared = preparedIn(args.sql);
            const inference = (rules: readonly MaskingRule[], masker: Masker) => inferenceRefusalThroughViews(args.sql, masker, rules, metadataFor(target), target.ref.name, prepared);
            return withUserCode(metadataFor(target), { ...classified, ...(params?.length ? { params } : {}), inference }, prepared);
          },
          execute: async ({ session, decision, target, request, signal }) => {
            // The PostgreSQL gateway's refusals under masking (stored-sources.ts): user code, masked values stored elsewhere.
            const refused = decision.masker?.active ? await refusedStore(args.sql, decision.masker, metadataFor(target), target.ref.name, prepared, request.kind) : null;
            if (refused) {
              session.recordResult(decision.requestSeq, { error: { code: "0A000", message: `refused under masking: ${refused}` } });
              return errorResult(`DENIED: 0A000 not available on a masked connection: ${refused}`);
            }
            let outcome: SqlOutcome;
            try {
              outcome = await runSqlUpstream(target, args.sql, params, decision.masker, signal);
            } catch (err) {
              const message = upstreamMessage(err, decision.masker, clientText(args.sql, params));
              session.recordResult(decision.requestSeq, { error: message });
              return errorResult(`${err instanceof GatehouseError ? err.code : "UPSTREAM"}: ${message.code ? `${message.code} ` : ""}${message.message}`);
            } finally {
              if (mayChangeCatalog(request.kind)) catalogChanged(target);
            }
            const rows = outcome.sets.reduce((n, s) => n + s.rowCount, 0);
            session.recordResult(decision.requestSeq, {
              tag: outcome.sets.map((s) => s.command).join("; "),
              rows,
              durationMs: outcome.durationMs,
              maskedCells: outcome.maskedCells,
              maskCounts: decision.masker?.counts() ?? [],
              sample: sampleOf(outcome),
            });
            const results = outcome.sets.map((s) => ({ command: s.command, rowCount: s.rowCount, columns: s.columns, rows: s.rows.map((r) => Object.fromEntries(s.columns.map((c, i) => [c, r[i]]))), ...(s.truncated ? { truncated: true } : {}) }));
            const note = outcome.maskedCells ? `${outcome.maskedCells} values masked by policy. ` : "";
            return textResult(`${note}${JSON.stringify(results.length === 1 ? results[0] : results)}`);
          },
        });
      }),
  );
}

/** The statements the text PREPAREs itself: each call runs on a connection of its own, where no other exists. */
function preparedIn(sql: string): (name: string) => string | null {
  const defs = new Map(preparedDefinitions(classifySql(sql)));
  return (name) => defs.get(name)?.statements[0]?.text ?? null;
}

/**
 * An upstream error as the agent may see it: PostgreSQL's own message or, for connection
 * failures, a generic line; the cause with host and port goes to the log only. Under a masker
 * the message is masked as the PostgreSQL gateway masks an ErrorResponse (maskServerFields): an
 * error can quote a masked column's value (`invalid input syntax for type integer: "<value>"`,
 * a unique violation), which no detector recognises, so only what the agent itself sent may be
 * quoted back, and text raised inside code is withheld.
 */
function upstreamMessage(err: unknown, masker: Masker | null, sent: string): { code?: string; message: string } {
  if (err instanceof GatehouseError) return { message: err.message };
  if (err instanceof SqlCancelled) return { code: err.code, message: err.message };
  const e = err as { name?: string; code?: string; message?: string; where?: string; severity?: string };
  if (e?.name === "PostgresError" && typeof e.message === "string") {
    if (!masker) return { code: e.code, message: e.message };
    const fields = maskServerFields({ severity: e.severity ?? "ERROR", code: e.code ?? "XX000", message: e.message, ...(e.where ? { where: e.where } : {}) }, masker, sent);
    return { code: e.code, message: fields.message };
  }
  console.warn(`[mcp] upstream failure: ${e?.message ?? String(err)}`);
  return { message: "the upstream database could not be reached or closed the connection" };
}

/** What the agent sent, as maskServerFields may quote it back: the statement and its parameters. */
function clientText(sql: string, params: (string | null)[] | undefined): string {
  return [sql, ...(params ?? []).filter((p): p is string => p !== null)].join("\n");
}
