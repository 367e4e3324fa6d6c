/**
 * The client's address for throttling and audit. X-Forwarded-For is trusted only when
 * GATEHOUSE_TRUST_PROXY=1 (Gatehouse behind a reverse proxy); otherwise the socket address that
 * server.ts stamps into x-gatehouse-peer (after stripping any client-sent copy) is used.
 */
export function clientAddressOf(headers: Headers | Record<string, string | string[] | undefined> | undefined): string {
  const get = (name: string): string | undefined => {
    if (!headers) return undefined;
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  if (process.env.GATEHOUSE_TRUST_PROXY === "1") {
    const fwd = get("x-forwarded-for")?.split(",")[0]?.trim();
    if (fwd) return fwd;
  }
  return get("x-gatehouse-peer") ?? "unknown";
}
