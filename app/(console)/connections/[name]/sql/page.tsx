import Link from "next/link";
import { getDb } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { requirePage } from "@/lib/auth/page";
import { SqlConsole } from "@/components/sql/sql-console";

/**
 * The browser SQL console. Whether the caller may connect, and each statement, is decided by
 * policy through the PostgreSQL gateway, exactly as for psql; this page only checks that the
 * connection is a PostgreSQL database.
 */
export default async function ConnectionSqlPage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  await requirePage("gateway:use", `/connections/${encodeURIComponent(name)}/sql`);
  const conn = await getConnection(await getDb(), { name });
  if (!conn || conn.type !== "postgres") {
    return (
      <div className="space-y-3">
        <h1 className="text-xl font-semibold">SQL console</h1>
        <p className="text-sm text-slate-600">{conn ? `${conn.name} is a ${conn.type} connection; the SQL console opens PostgreSQL connections.` : "There is no such connection."}</p>
        <Link className="text-sm text-brand underline" href="/connections">Back to connections</Link>
      </div>
    );
  }
  return <SqlConsole connection={conn.name} />;
}
