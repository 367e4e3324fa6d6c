import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";

/** Below the SDK client's default 60 s request timeout, so a held call answers before it. */
export const DEFAULT_WAIT_SECONDS = 45;
export const MAX_WAIT_SECONDS = 300;

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * A log message on the tool call's own response stream (stateless MCP has no other channel),
 * so an agent sees "held for approval #N: <url>" while the call is still waiting.
 */
export function notifier(extra: Extra) {
  return (text: string) => extra.sendNotification({ method: "notifications/message", params: { level: "notice", logger: "gatehouse", data: text } });
}
