import Link from "next/link";
import { getDb } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { requirePage } from "@/lib/auth/page";
import { BrowserTerminal } from "@/components/terminal/browser-terminal";

/**
 * The browser SSH terminal, full height. Whether the caller may connect is decided by policy on
 * the WebSocket, exactly as for `ssh`; this page only checks that the connection is an SSH host.
 */
export default async function ConnectionTerminalPage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  await requirePage("gateway:use", `/connections/${encodeURIComponent(name)}/terminal`);
  const conn = await getConnection(await getDb(), { name });
  if (!conn || conn.type !== "ssh") {
    return (
      <div className="space-y-3">
        <h1 className="text-xl font-semibold">Terminal</h1>
        <p className="text-sm text-slate-600">{conn ? `${conn.name} is a ${conn.type} connection; the browser terminal opens SSH connections.` : "There is no such connection."}</p>
        <Link className="text-sm text-brand underline" href="/connections">Back to connections</Link>
      </div>
    );
  }
  return (
    // The console's main area has 1.5 rem padding on each side.
    <div className="-my-1 flex h-[calc(100dvh-3rem)] flex-col">
      <BrowserTerminal connection={conn.name} />
    </div>
  );
}
