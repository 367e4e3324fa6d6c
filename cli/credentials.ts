import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * `~/.config/gatehouse/credentials.json` (or `$XDG_CONFIG_HOME/gatehouse/...`): login tokens
 * keyed by server URL, plus the URL of the last login so `gatehouse login --url U` followed by
 * a bare `gatehouse whoami` talks to U. The file holds bearer tokens, so it is written 0600 in
 * a 0700 directory, atomically (a crash mid-write must not leave half a JSON file).
 */

export interface StoredLogin {
  token: string;
  id?: string;
  email?: string;
  expiresAt?: string;
}

export interface CredentialsFile {
  current?: string;
  servers: Record<string, StoredLogin>;
}

export const DEFAULT_URL = "http://127.0.0.1:3000";

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "gatehouse", "credentials.json");
}

export function normalizeUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

export function readCredentials(file = credentialsPath()): CredentialsFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return { servers: {} };
  }
  try {
    const data = JSON.parse(text) as Partial<CredentialsFile>;
    return { current: typeof data.current === "string" ? data.current : undefined, servers: data.servers && typeof data.servers === "object" ? data.servers : {} };
  } catch {
    // A hand-mangled file is treated as empty rather than blocking every command; login rewrites it.
    return { servers: {} };
  }
}

export function saveLogin(url: string, login: StoredLogin, file = credentialsPath()): string {
  const data = readCredentials(file);
  data.servers[normalizeUrl(url)] = login;
  data.current = normalizeUrl(url);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n", { mode: 0o600 });
  // writeFile's mode is filtered by the umask and ignored for an existing file; be explicit.
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  return file;
}

/** Which server and token a command uses: --url > GATEHOUSE_URL > last login > default; GATEHOUSE_TOKEN > stored token. */
export function resolveTarget(env: NodeJS.ProcessEnv, urlFlag?: string): { url: string; token?: string; tokenSource?: "env" | "file" } {
  const creds = readCredentials(credentialsPath(env));
  const url = normalizeUrl(urlFlag || env.GATEHOUSE_URL || creds.current || DEFAULT_URL);
  if (env.GATEHOUSE_TOKEN) return { url, token: env.GATEHOUSE_TOKEN.trim(), tokenSource: "env" };
  const stored = creds.servers[url]?.token;
  return stored ? { url, token: stored, tokenSource: "file" } : { url };
}
