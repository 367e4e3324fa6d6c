/**
 * The CLI's only way to the server: `/api/v1/...` with a bearer token. Every failure leaves this
 * module as a `CliError` with a code: the server's own `{ error: { code, message } }` passes
 * through unchanged, transport failures become UNREACHABLE with the URL in the message, so the
 * user can tell "wrong password" from "wrong host" at a glance.
 */

export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 1,
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  /** login is the one call made without a token */
  auth?: boolean;
}

const TIMEOUT_MS = Number(process.env.GATEHOUSE_TIMEOUT_MS) || 30_000;

export class ApiClient {
  constructor(
    readonly url: string,
    private readonly token: string | undefined,
  ) {}

  get<T>(path: string, query?: RequestOptions["query"]) {
    return this.request<T>("GET", path, { query });
  }
  post<T>(path: string, body: unknown, opts: Omit<RequestOptions, "body"> = {}) {
    return this.request<T>("POST", path, { ...opts, body });
  }
  put<T>(path: string, body: unknown) {
    return this.request<T>("PUT", path, { body });
  }
  patch<T>(path: string, body: unknown) {
    return this.request<T>("PATCH", path, { body });
  }
  delete<T>(path: string, body?: unknown) {
    return this.request<T>("DELETE", path, { body });
  }

  async request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts, AbortSignal.timeout(TIMEOUT_MS));
    const text = await res.text();
    const body = parseJson(text);
    const error = errorOf(body);
    // HELD arrives as 202 with an error body: it is not a success for the caller.
    if (!res.ok || error) throw this.toError(res, error, text, opts.auth !== false);
    return body as T;
  }

  /** A streamed body (audit export): no overall timeout, the stream may legitimately be long. */
  async stream(path: string, query?: RequestOptions["query"]): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send("GET", path, { query }, undefined);
    if (!res.ok || !res.body) {
      const text = await res.text();
      throw this.toError(res, errorOf(parseJson(text)), text, true);
    }
    return res.body;
  }

  private async send(method: Method, path: string, opts: RequestOptions, signal: AbortSignal | undefined): Promise<Response> {
    const auth = opts.auth !== false;
    if (auth && !this.token) {
      throw new CliError("UNAUTHENTICATED", `not logged in to ${this.url}: run \`gatehouse login\` or set GATEHOUSE_TOKEN`);
    }
    const target = this.endpoint(path, opts.query);
    // The server audits recording reads with the client that made them: `gatehouse` says it is itself.
    const headers: Record<string, string> = { accept: "application/json", "user-agent": "gatehouse-cli" };
    if (auth) headers.authorization = `Bearer ${this.token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(target, { method, headers, body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined, signal, redirect: "error" });
    } catch (err) {
      throw new CliError("UNREACHABLE", `cannot reach Gatehouse at ${this.url}: ${transportReason(err)}`);
    }
  }

  private endpoint(path: string, query: RequestOptions["query"]): URL {
    let target: URL;
    try {
      target = new URL(`${this.url}/api/v1${path}`);
    } catch {
      throw new CliError("USAGE", `'${this.url}' is not a valid Gatehouse URL (set GATEHOUSE_URL or --url, e.g. http://127.0.0.1:3000)`, 2);
    }
    if (target.protocol !== "http:" && target.protocol !== "https:") {
      throw new CliError("USAGE", `'${this.url}' is not an http(s) URL`, 2);
    }
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) target.searchParams.set(k, v);
    return target;
  }

  private toError(res: Response, error: { code: string; message: string; detail?: unknown } | null, text: string, authed: boolean): CliError {
    if (error) {
      const hint = authed && error.code === "UNAUTHENTICATED" ? " (log in again with `gatehouse login`, or check GATEHOUSE_TOKEN)" : "";
      return new CliError(error.code, error.message + hint, 1, error.detail);
    }
    // Not our API answering (a proxy page, a wrong port): say so instead of dumping HTML.
    const snippet = text.trim().slice(0, 120);
    return new CliError(`HTTP_${res.status}`, `Gatehouse at ${this.url} answered ${res.status} ${res.statusText}${snippet && !snippet.startsWith("<") ? `: ${snippet}` : ""}`);
  }
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorOf(body: unknown): { code: string; message: string; detail?: unknown } | null {
  if (!body || typeof body !== "object" || !("error" in body)) return null;
  const e = (body as { error: unknown }).error;
  // RFC 6749 §5.2 errors (token exchange): { error: "invalid_scope", error_description }
  if (typeof e === "string") {
    const d = (body as { error_description?: unknown }).error_description;
    return { code: e.toUpperCase(), message: typeof d === "string" ? d : e };
  }
  if (!e || typeof e !== "object") return null;
  const { code, message, detail } = e as Record<string, unknown>;
  if (typeof code !== "string") return null;
  return { code, message: typeof message === "string" ? message : code, detail };
}

/** fetch() reports "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND, TLS) is in `cause`. */
function transportReason(err: unknown): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return `no answer within ${Math.round(TIMEOUT_MS / 1000)} s`;
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return err instanceof Error ? err.message : String(err);
}
