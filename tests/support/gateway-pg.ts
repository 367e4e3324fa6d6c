import postgres from "postgres";

/**
 * postgres.js (the pipelining extended-protocol client) connected to Gatehouse's PostgreSQL port
 * with a Gatehouse token, as the integration tests use it: one connection, no TLS on loopback,
 * the notices the gateway sends ("held for approval #N: ...") collected in `notices`.
 */
export interface GatewayClient {
  sql: postgres.Sql;
  notices: string[];
}

export interface GatewayClientOptions {
  /** the Gatehouse token (or ticket) given as the password */
  password: string;
  /** the token owner's email */
  user: string;
  /** the connection name; `demo-postgres` unless told */
  database?: string;
  application?: string;
  /** every client made is pushed here, so that afterAll can end them */
  track?: postgres.Sql[];
  /** further postgres.js options, e.g. `{ fetch_types: false }` */
  options?: postgres.Options<Record<string, postgres.PostgresType>>;
}

export function gatewayClient(port: number, opts: GatewayClientOptions): GatewayClient {
  const notices: string[] = [];
  const sql = postgres({
    host: "127.0.0.1",
    port,
    database: opts.database ?? "demo-postgres",
    username: opts.user,
    password: opts.password,
    ssl: false,
    max: 1,
    connect_timeout: 10,
    onnotice: (n) => void notices.push(String(n.message)),
    ...(opts.application ? { connection: { application_name: opts.application } } : {}),
    ...opts.options,
  });
  opts.track?.push(sql);
  return { sql, notices };
}

/** Connects, runs `select 1` and disconnects: "ok", or the message of the error the gateway answered with. */
export async function connectOutcome(port: number, opts: GatewayClientOptions): Promise<string> {
  const { sql } = gatewayClient(port, opts);
  try {
    await sql`select 1`;
    return "ok";
  } catch (err) {
    return (err as Error).message;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Runs `statements` on a fresh client and disconnects; the rows of the last result. */
export async function runOnce(port: number, opts: GatewayClientOptions, statements: string): Promise<postgres.RowList<postgres.Row[]>> {
  const { sql } = gatewayClient(port, opts);
  try {
    return await sql.unsafe(statements);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}
