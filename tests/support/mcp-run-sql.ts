import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { GatehouseProcess } from "./gatehouse";

/** The text of a tool result. */
export const resultText = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");

/** One `run_sql` call over MCP as `token`, on a client of its own (pushed to `clients` for the suite to close). */
export async function mcpRunSql(gh: GatehouseProcess, token: string, clients: Client[], connection: string, sql: string): Promise<CallToolResult> {
  const client = new Client({ name: "gatehouse-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return client.callTool({ name: "run_sql", arguments: { connection, sql } }, undefined, { timeout: 120_000 }) as Promise<CallToolResult>;
}
