/**
 * The console's Content-Security-Policy: scripts only from this origin and with the request's
 * nonce (Next.js puts it on its own inline bootstrap scripts when it finds it in the request's
 * CSP header), so an injected `<script>` or event handler does not run even if some rendering
 * bug let markup through. `'strict-dynamic'` lets those trusted scripts load the page's chunks.
 *
 * Deliberate allowances: `'wasm-unsafe-eval'` for asciinema-player's WebAssembly terminal;
 * inline styles (React `style` props, xterm.js and the player set element styles); `blob:`/
 * `data:` images and fonts (xterm's canvas glyphs, the player's font); `blob:` fetches (the replay
 * hands the player its segment index as a blob URL). WebSockets are same-origin (`'self'` covers
 * ws:/wss: to this host). `'unsafe-eval'` only in development (React's dev tools).
 */
export function contentSecurityPolicy(nonce: string, opts: { dev?: boolean } = {}): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic' 'wasm-unsafe-eval'${opts.dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self' data:",
    "connect-src 'self' blob:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** 128 random bits, base64: unguessable per response. */
export function newNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes));
}
