/**
 * WebSocket close codes after which a resumable browser session (the terminal, the SQL console)
 * is not retried: the server closed it on purpose. Any other close is a network loss, retried
 * with the resume token for the grace period.
 */
export function finalCloseReason(code: number | undefined, what: "terminal" | "console"): string | null {
  switch (code) {
    case 1000:
      return `the ${what} was closed`;
    case 1011:
      return `the ${what} failed on the server`;
    case 4401:
      return "your authorization ended (signed out, session expired, disabled or token revoked)";
    case 4404:
      return `the ${what} session is gone`;
    default:
      return null;
  }
}
