import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import { classifyExec } from "@/lib/gateway/protocols/ssh/classify";
import { changedOnHost, judgeOnTarget } from "@/lib/gateway/protocols/ssh/upstream-paths";
import { errorResult, safely, textResult, type McpContext } from "../context";
import { runGatewayCall } from "../gateway-call";
import { MAX_OUTPUT_BYTES, runSshExec } from "../ssh-exec";
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, notifier } from "./shared";

/** Below the SDK client's default 60 s request timeout, like DEFAULT_WAIT_SECONDS. */
export const DEFAULT_TIMEOUT_SECONDS = 45;
export const MAX_TIMEOUT_SECONDS = 600;
const PROGRESS_MS = 10_000;

const input = {
  connection: z.string().min(1).max(128).describe("connection name, as list_connections shows it"),
  command: z.string().min(1).max(32_000).describe("the command line, run by the remote user's shell as `ssh host '<command>'` would"),
  timeout_seconds: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS).optional().describe(`the command is killed after this long (default ${DEFAULT_TIMEOUT_SECONDS})`),
  wait_seconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional().describe(`if held for approval, how long this call waits for the decision (default ${DEFAULT_WAIT_SECONDS})`),
};

/**
 * run_ssh_command: an `exec` on an ssh connection, classified by the SSH gateway's own command
 * classifier (so policy sees what it sees for `ssh host cmd`), decided, and, on allow, run
 * through the SSH gateway's exec path (ssh-exec.ts): stored credential, pinned host key,
 * terminal masking, `term.*` recording. The command that runs is byte for byte the one that was
 * decided (and approved, if held). No pty and no stdin: stdout and stderr stay apart.
 */
export function registerRunSshCommand(server: McpServer, ctx: McpContext) {
  server.registerTool(
    "run_ssh_command",
    {
      title: "Run an SSH command",
      description:
        `Runs a shell command on an ssh connection through Gatehouse. Policy may allow, mask (output comes back masked), deny, or hold the command for a human approver. ` +
        `Returns JSON { exitCode, signal?, stdout, stderr }; a non-zero exit is a normal result. Each stream is capped at ${MAX_OUTPUT_BYTES / (1 << 20)} MiB (truncated: true); ` +
        `the command is killed after timeout_seconds (default ${DEFAULT_TIMEOUT_SECONDS}, max ${MAX_TIMEOUT_SECONDS}; timedOut: true). Longer commands need a longer client request timeout ` +
        `(progress notifications are sent every ${PROGRESS_MS / 1000} s when the call has a progressToken). ` +
        `If it stays held longer than wait_seconds, the result says "held for approval #N": call wait_for_approval with that id.`,
      inputSchema: input,
    },
    (args, extra) =>
      safely("run_ssh_command", async () => {
        // As the native exec path refuses it (terminal-channel.ts), before policy: the remote
        // side reads the command as a C string and would run only what precedes the NUL.
        if (args.command.includes("\0")) return errorResult("DENIED: the command contains a NUL byte");
        const timeoutSeconds = args.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS;
        const token = extra._meta?.progressToken;
        const onProgress =
          token === undefined
            ? undefined
            : (ms: number) =>
                void extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: Math.round(ms / 1000), total: timeoutSeconds, message: "running" } }).catch(() => {});
        // exactly the request the SSH gateway builds for an exec channel: an ordinary write as
        // its paths resolve on the host (a symlink already there, a home outside /home)
        // (parsed once; the host is asked again right before the run)
        const { request, targets, atLeast } = classifyExec(args.command);
        const onHost = (target: UpstreamTarget) => judgeOnTarget(ctx.db, target, request, targets, atLeast);
        return runGatewayCall(ctx, {
          tool: "run_ssh_command",
          connection: args.connection,
          type: "ssh",
          waitSeconds: args.wait_seconds ?? DEFAULT_WAIT_SECONDS,
          notify: notifier(extra),
          signal: extra.signal,
          requestId: extra.requestId,
          classify: onHost,
          execute: async ({ session, decision, target, request, signal }) => {
            // asked again right before it runs: a link swapped in while it waited (terminal-channel.ts)
            const changed = changedOnHost(request, await onHost(target));
            if (changed) {
              session.recordResult(decision.requestSeq, { denied: true, error: changed });
              return errorResult(`DENIED: ${changed}`);
            }
            const r = await runSshExec({ db: ctx.db, session, decision, target, command: args.command, timeoutMs: timeoutSeconds * 1000, onProgress, progressMs: PROGRESS_MS, signal });
            if (r.failure?.kind === "upstream") return errorResult(`UPSTREAM: ${r.failure.message}`);
            const out = {
              exitCode: r.exitCode,
              ...(r.signal ? { signal: r.signal } : {}),
              stdout: r.stdout,
              stderr: r.stderr,
              ...(r.truncated ? { truncated: true, bytes: r.bytes } : {}),
              ...(r.timedOut ? { timedOut: true } : {}),
            };
            if (r.failure) return errorResult(`DENIED: ${r.failure.message}. Output so far: ${JSON.stringify(out)}`, out);
            const notes = [
              r.timedOut ? `timed out after ${timeoutSeconds} s; the command was killed.` : "",
              r.maskedSpans ? `${r.maskedSpans} values masked by policy.` : "",
              r.truncated ? `output truncated to ${MAX_OUTPUT_BYTES / (1 << 20)} MiB per stream.` : "",
            ].filter(Boolean);
            return textResult(`${notes.length ? `${notes.join(" ")} ` : ""}${JSON.stringify(out)}`, out);
          },
        });
      }),
  );
}
