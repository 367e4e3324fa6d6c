/**
 * Where the console may send a browser after sign-in: a path on this origin, never anywhere else.
 *
 * Checking the text is not enough, because the browser does not navigate to the text: the URL
 * parser drops tabs and newlines anywhere in it and reads "\" as "/", so "/\t/evil.example"
 * (`callbackUrl=/%09/evil.example`) passes a "starts with one slash" test and still lands on
 * //evil.example. So the value is resolved exactly as the browser will resolve it, kept only if
 * it stays on our origin, and handed back in its resolved form (control characters encoded), so
 * what was checked is what is followed.
 */
const BASE = "http://gatehouse.invalid";
/** where sign-in lands when no (acceptable) destination was asked for: the Overview, as "/" does */
const FALLBACK = "/overview";

export function safeCallbackPath(url: string | null | undefined): string {
  if (!url || url.length >= 2048 || !url.startsWith("/")) return FALLBACK;
  let resolved: URL;
  try {
    resolved = new URL(url, BASE);
  } catch {
    return FALLBACK;
  }
  // "/..//evil.example" stays here, but resolves to the path "//evil.example": handed back, that
  // would be read as another host.
  if (resolved.origin !== BASE || resolved.pathname.startsWith("//")) return FALLBACK;
  return resolved.pathname + resolved.search + resolved.hash;
}
