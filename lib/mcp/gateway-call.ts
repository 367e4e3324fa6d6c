import type { CallToolResult, RequestId } from "@modelcontextprotocol/sdk/types.js";
import { refusalReason, type Decision, type HeldNotice } from "@/lib/gateway/core/decision";
import { GatewaySession } from "@/lib/gateway/core/session";
import { GatehouseError, type ClassifiedRequest, type ConnectionRef } from "@/lib/gateway/core/types";
import { loadUpstream, type UpstreamTarget } from "@/lib/gateway/core/upstream";
import { approvalWaits } from "@/lib/auth/caller-caps";
import { branchesOf, maxCallsPerAgent, maxCallsPerUser, takeCallSlot, type SlotRefusal } from "./call-slots";
import { callerOf, errorResult, textResult, type McpContext } from "./context";
import { trackCall } from "./in-flight";
import { parkHeldCall, within } from "./held-calls";

/**
 * One MCP tool call through the core pipeline, exactly as a native client's request goes:
 * open a GatewaySession (decides `connect`), decide the classified request (holds resolved
 * inside), run it only on allow, record the result, end the session. The session is per tool
 * call because stateless MCP has no connection to hang a longer one on; the recording still
 * shows the whole chain, client address and origin "mcp". Its protocol is the connection's, as
 * for the browser terminal (protocol "ssh", origin "web-console"): policies on
 * `context.client.protocol`, masking rules and the console's views treat an agent's SQL and
 * commands as the statements and execs they are.
 *
 * Holds: the call waits up to `waitSeconds` for the decision. If it is still pending then, the
 * tool answers "held for approval #N" and the hold continues in the background (held-calls.ts);
 * `wait_for_approval` returns the outcome. A denied or expired hold never runs anything.
 *
 * Each call takes one of its user's call slots first (call-slots.ts): over the limit it is
 * refused before a session is opened. While a person decides (a held `connect` or request) the
 * call holds no slot: a held `connect`, which waits inside this request, counts as an approval wait
 * (GATEHOUSE_MAX_WAITS_PER_CALLER) instead and takes a call slot back once approved.
 */
export type Allowed = Extract<Decision, { type: "allow" }>;

export interface GatewayCall {
  tool: string;
  connection: string;
  type: ConnectionRef["type"];
  classify(target: UpstreamTarget): Promise<ClassifiedRequest>;
  /** aborts when the call ends early: the session was ended, or the client went away before a hold parked the call */
  execute(run: { session: GatewaySession; decision: Allowed; target: UpstreamTarget; request: ClassifiedRequest; signal: AbortSignal }): Promise<CallToolResult>;
  waitSeconds: number;
  /** the MCP request's own signal: aborts when the client disconnects */
  signal?: AbortSignal;
  /** the call's JSON-RPC id, which a `notifications/cancelled` names (in-flight.ts) */
  requestId?: RequestId;
  /** tells the live MCP request (a log notification) that the call is waiting for an approver */
  notify?(text: string): Promise<void>;
}

/** The call's slot, given back while a person decides and taken again to run. */
interface CallSlot {
  release(): void;
  /** null once taken; else which count was full */
  retake(): Promise<SlotRefusal | null>;
}

export async function runGatewayCall(ctx: McpContext, call: GatewayCall): Promise<CallToolResult> {
  const caller = callerOf(ctx.principal);
  const first = await takeCallSlot(caller);
  if (typeof first === "string") return errorResult(busy(ctx, first));
  let release: (() => void) | null = first;
  const slot: CallSlot = {
    release: () => release?.(),
    retake: async () => {
      const again = await takeCallSlot(caller);
      if (typeof again === "string") return again;
      release = again;
      return null;
    },
  };
  // The slot is handed to the call's job once there is one (released when it settles or is held).
  let running: Promise<unknown> | null = null;
  try {
    return await admitted(ctx, call, slot, (job) => (running = job.then(slot.release)));
  } finally {
    if (!running) slot.release();
  }
}

function busy(ctx: McpContext, full: SlotRefusal): string {
  const { chain } = ctx.principal;
  if (full.startsWith("agent:")) {
    const depth = Number(full.slice("agent:".length));
    const branch = branchesOf(callerOf(ctx.principal))[depth - 1];
    return `UNAVAILABLE: ${branch?.limit ?? "its share of"} calls of sub-agent ${chain[depth]?.name ?? "?"} (with the agents it spawned) are already running, its share of agent ${chain[depth - 1]?.name ?? "?"}'s; wait for one to finish`;
  }
  if (full === "agent") return `UNAVAILABLE: ${maxCallsPerAgent()} calls of agent ${chain[1]?.name ?? "?"} (with the agents it spawned) are already running, its share of ${chain[0]?.name ?? "this user"}'s agents' calls; wait for one to finish`;
  const agents = chain.length > 1 ? " by its agents (its own calls are counted apart)" : "";
  return `UNAVAILABLE: ${maxCallsPerUser()} calls for ${chain[0]?.name ?? "this user"} are already running${agents}; wait for one to finish`;
}

async function admitted(ctx: McpContext, call: GatewayCall, slot: CallSlot, started: (job: Promise<CallToolResult>) => void): Promise<CallToolResult> {
  const target = await loadUpstream(ctx.db, call.connection);
  if (!target) return errorResult(`NOT_FOUND: no connection named "${call.connection}"`);
  if (target.ref.type !== call.type) return errorResult(`INVALID: ${call.connection} is a ${target.ref.type} connection, not ${call.type}`);

  let announce: (n: HeldNotice) => void = () => {};
  const held = new Promise<HeldNotice>((resolve) => (announce = resolve));
  // The URL is what a human needs; the approval id is what the agent needs.
  const log = (n: HeldNotice) => console.info(`[mcp] ${call.tool} by ${ctx.principal.chain.map((a) => a.name).join(" > ")} on ${call.connection} held for approval #${n.approvalId}: ${n.url}`);
  let parked = false;
  const onHeld = (n: HeldNotice) => {
    log(n);
    parked = true;
    slot.release(); // waiting for a person holds nothing upstream (call-slots.ts)
    announce(n);
  };

  const session = await openSession(ctx, call, target, slot, log);
  if (!(session instanceof GatewaySession)) return session;

  // Revoking the token, disabling the user or an admin kill ends the session: stop waiting too.
  const cancel = new AbortController();
  session.onTerminate(() => cancel.abort());
  // A client that goes away or cancels the call stops what it started, as a closed psql or ssh does; a
  // call parked on a hold is no longer the request's: it runs once approved (held-calls.ts).
  const gone = () => {
    if (!parked) cancel.abort();
  };
  if (call.signal?.aborted) gone();
  call.signal?.addEventListener("abort", gone, { once: true });
  const untrack = call.requestId === undefined ? () => {} : trackCall(ctx.principal, call.requestId, gone);

  const job = (async (): Promise<CallToolResult> => {
    try {
      // Classified once `connect` was decided: an SSH write's classification asks the host where
      // its paths lead, which nobody refused the connection may make the gateway do.
      const request = await call.classify(target);
      const decision = await session.decide(request, { onHeld, signal: cancel.signal });
      const note = decision.approvalId ? `held for approval #${decision.approvalId}; ` : "";
      if (decision.type === "deny") {
        return errorResult(`DENIED: ${note}${refusalReason(decision.reason, request)}`, { status: "denied", reason: decision.reason, ...(request.kindWhy ? { kindWhy: request.kindWhy } : {}), ...(decision.approvalId ? { approvalId: decision.approvalId } : {}) });
      }
      if (session.isEnded) return errorResult(`DENIED: ${note}the session ended before the request could run`);
      if (cancel.signal.aborted) {
        session.recordResult(decision.requestSeq, { error: "the MCP client went away before the request could run" });
        return errorResult(`DENIED: ${note}the call was cancelled before it could run`);
      }
      const result = await call.execute({ session, decision, target, request, signal: cancel.signal });
      return note ? prefixed(result, note.replace(/; $/, ", approved. ")) : result;
    } catch (err) {
      console.error(`[mcp] ${call.tool} on ${call.connection} failed:`, err);
      return errorResult("internal error");
    } finally {
      call.signal?.removeEventListener("abort", gone);
      untrack();
      await session.end();
    }
  })();
  started(job);

  const first = await Promise.race([job.then((r) => ({ done: r })), held.then((n) => ({ held: n }))]);
  if ("done" in first) return first.done;
  const notice = first.held;
  parkHeldCall(notice.approvalId, ctx.principal, job);
  await call.notify?.(`held for approval #${notice.approvalId}: ${notice.url}`).catch(() => {});
  const settled = await within(job, call.waitSeconds * 1000);
  if (settled) return settled;
  return textResult(
    `held for approval #${notice.approvalId} (${notice.url}). Nothing has run yet. An approver must decide; ` +
      `call wait_for_approval with approval_id ${notice.approvalId} to wait for the outcome and get the result.`,
    { status: "held", approvalId: notice.approvalId, url: notice.url },
  );
}

/**
 * Opens the call's session (decides `connect`). A held `connect` waits inside this request, for a
 * person: it gives its call slot back and holds an approval wait instead (over that cap its hold
 * is withdrawn), and takes a call slot again once approved. The client going away withdraws it too:
 * nothing could resume it.
 */
async function openSession(ctx: McpContext, call: GatewayCall, target: UpstreamTarget, slot: CallSlot, log: (n: HeldNotice) => void): Promise<GatewaySession | CallToolResult> {
  const withdraw = new AbortController();
  let waiting: (() => void) | null = null;
  let held = false;
  let overWaits = false;
  const onHeld = (n: HeldNotice) => {
    log(n);
    held = true;
    slot.release();
    waiting = approvalWaits.acquire(callerOf(ctx.principal));
    if (!waiting) {
      overWaits = true;
      withdraw.abort();
    }
  };
  let session: GatewaySession;
  try {
    session = await GatewaySession.open(
      ctx.db,
      { principal: ctx.principal, connection: target.ref, client: { address: ctx.address, protocol: target.ref.type, origin: "mcp" }, applicationName: `mcp:${call.tool}` },
      // A held `connect` waits in-band only: there is no call yet to resume in the background.
      { onHeld, holdTimeoutMs: call.waitSeconds * 1000, signal: call.signal ? AbortSignal.any([call.signal, withdraw.signal]) : withdraw.signal },
    );
  } catch (err) {
    if (overWaits) throw new GatehouseError("RATE_LIMITED", `too many approval waits open at once for this caller (at most ${approvalWaits.limit()}); this connection needs an approver: try again when one of your waits has ended`);
    if (err instanceof GatehouseError && err.code === "DENIED") return errorResult(`DENIED: ${err.message}`);
    throw err;
  } finally {
    (waiting as (() => void) | null)?.();
  }
  if (held) {
    const full = await slot.retake().catch(async (err) => {
      await session.end("failed", "approved, but the call slots could not be counted");
      throw err;
    });
    if (full) {
      await session.end("failed", "approved, but no MCP call slot was free to run it");
      return errorResult(busy(ctx, full));
    }
  }
  return session;
}

function prefixed(result: CallToolResult, note: string): CallToolResult {
  const [first, ...rest] = result.content;
  if (first?.type !== "text") return { ...result, content: [{ type: "text", text: note.trim() }, ...result.content] };
  return { ...result, content: [{ ...first, text: note + first.text }, ...rest] };
}
