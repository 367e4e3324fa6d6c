import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ZodError } from "zod";
import type { Db } from "@/db/client";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError, type Principal } from "@/lib/gateway/core/types";
import { loggable } from "@/lib/util/loggable";

/**
 * What every MCP tool handler gets: the database, the authenticated principal (from the
 * bearer token, verified once per HTTP request) and the client address. Tools never see the
 * token itself, so it cannot leak upstream or into a recording.
 */
export interface McpContext {
  db: Db;
  principal: Principal;
  address: string;
}

/** The services layer speaks `Caller`; an MCP caller is always a bearer-token caller. */
export function callerOf(p: Principal): Caller {
  return { userId: p.userId, email: p.email, role: p.role, groups: p.groups, via: "token", principal: p };
}

export function textResult(text: string, structured?: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text }], ...(structured ? { structuredContent: structured } : {}) };
}

/** A refusal the agent should read and act on (denied, held too long, bad input): not a crash. */
export function errorResult(text: string, structured?: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text }], isError: true, ...(structured ? { structuredContent: structured } : {}) };
}

/**
 * The one place where a tool's exception becomes a tool result. Coded errors carry messages
 * written for the client; anything else is an internal cause, logged and never shown (it could
 * name hosts, users or upstream internals).
 */
export async function safely(tool: string, fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof GatehouseError) return errorResult(`${err.code}: ${err.message}`);
    if (err instanceof ZodError) return errorResult(`INVALID: ${err.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ")}`);
    console.error(`[mcp] ${tool} failed:`, loggable(err));
    return errorResult("internal error");
  }
}

/** A connection this credential's scope reaches (the policy checks it again on every decision). */
export function inScope(p: Principal, connection: string): boolean {
  return p.scopeConnections.includes("*") || p.scopeConnections.includes(connection);
}
