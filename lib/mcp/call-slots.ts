/**
 * How many MCP tool calls one user's credentials may have working at once: the human's own
 * tokens and every agent acting for it together, so minting child tokens does not raise it.
 *
 * Nothing else bounded it: one HTTP request may carry a batch of 100 calls, a client may send
 * requests without end, and each call holds an upstream connection (a run_ssh_command up to
 * ten minutes), so one agent could open as many database and SSH connections as it liked. A
 * call over the limit is refused before anything is opened. A call parked on a hold gives its
 * slot back while it waits for a person (it holds nothing upstream); once approved it runs.
 * Per process: each Gatehouse node counts its own calls.
 */
export const MAX_CALLS_PER_USER = Number(process.env.GATEHOUSE_MCP_MAX_CALLS_PER_USER) || 16;

const g = globalThis as { __gatehouseMcpSlots?: Map<string, number> };
const running: Map<string, number> = (g.__gatehouseMcpSlots ??= new Map());

/** A slot for one call of `userId`, as its release function (safe to call twice); null when none is free. */
export function takeCallSlot(userId: string): (() => void) | null {
  const n = running.get(userId) ?? 0;
  if (n >= MAX_CALLS_PER_USER) return null;
  running.set(userId, n + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (running.get(userId) ?? 1) - 1;
    if (left > 0) running.set(userId, left);
    else running.delete(userId);
  };
}
