/**
 * A session as `GET /api/v1/sessions` and `GET /api/v1/sessions/:id` send it (times as ISO
 * strings). The console and the CLI both read this shape; it is types only, so the CLI, which
 * runs without the server's code, imports nothing at run time.
 */
export interface SessionJson {
  id: string;
  parentSessionId: string | null;
  userEmail: string;
  chain: { kind: string; name: string }[];
  connectionName: string;
  protocol: string;
  origin: string;
  clientAddress: string;
  applicationName: string;
  status: string;
  endReason: string | null;
  startedAt: string;
  endedAt: string | null;
}
