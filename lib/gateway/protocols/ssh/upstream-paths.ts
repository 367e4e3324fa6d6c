import path from "node:path";
import type { Client, SFTPWrapper, Stats } from "ssh2";
import type { Db } from "@/db/client";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import type { ClassifiedRequest, RequestKind } from "@/lib/gateway/core/types";
import { atLeastKind } from "./classify";
import { globMatches, isPersistenceAncestor, isPersistencePath } from "./persistence-paths";
import { connectUpstream } from "./upstream";

/**
 * Where a write's paths lead on the upstream host, asked of the host itself: the text of a line
 * cannot show a symlink already there (`~/notes -> ~/.ssh`, then `echo KEY >> notes/authorized_keys`
 * or an SFTP put to `notes/authorized_keys`), nor a home directory outside /home (`/srv/app`,
 * `/var/lib/jenkins`), whose `bin/` or `.local/bin` is as much a persistence path as /home/USER's.
 *
 * One SFTP session per upstream connection, opened on the gateway's own connection the first time
 * an ordinary write needs it: REALPATH (the kernel's answer, symlinks followed; no shell, so
 * nothing in a name is run) and the login's working directory, its home. Only reads.
 *
 * Fail closed: if the host cannot answer (no SFTP subsystem, a timeout, a link to a place that
 * does not exist), the write is judged a persistence write (admin), held by the default policies.
 */
const RESOLVE_TIMEOUT_MS = Number(process.env.GATEHOUSE_SSH_RESOLVE_TIMEOUT_MS ?? 10_000);
const NO_SUCH_FILE = 2;
/** a name in a path, followed up to this many parents that do not exist yet (`mkdir -p a/b/c/d`) */
const MAX_MISSING = 64;
/** paths asked about for one request; a line naming more is not looked into (admin) */
const MAX_PATHS = 256;

export class UpstreamPaths {
  private session: Promise<SFTPWrapper> | null = null;
  private homeDir: Promise<string> | null = null;

  constructor(private readonly client: Client) {}

  /**
   * `request` as the host makes it: an ordinary write (exec or SFTP) whose path, resolved on the
   * host, is a persistence path or a directory above them is admin; then at least `atLeast`.
   */
  async judge(request: ClassifiedRequest, paths: readonly string[], atLeast?: RequestKind): Promise<ClassifiedRequest> {
    return atLeastKind(await this.judgeWrite(request, paths), atLeast);
  }

  private async judgeWrite(request: ClassifiedRequest, paths: readonly string[]): Promise<ClassifiedRequest> {
    if (request.kind !== "write" || paths.length === 0) return request;
    try {
      if (paths.length > MAX_PATHS) throw new Error("too many paths");
      const home = await this.home();
      const opts = { homes: [home] };
      const resolved = (await Promise.all(paths.map((p) => this.resolveGlob(p, home)))).flat();
      if (resolved.length > MAX_PATHS) throw new Error("too many paths");
      return resolved.some((p) => isPersistencePath(p, opts) || isPersistenceAncestor(p, opts)) ? { ...request, kind: "admin" } : request;
    } catch {
      return { ...request, kind: "admin" };
    }
  }

  /** The login's home directory: where SFTP, like exec, starts. */
  home(): Promise<string> {
    this.homeDir ??= this.sftp().then((s) => call<string>((cb) => s.realpath(".", cb)));
    return this.homeDir;
  }

  /**
   * A glob in the last segment (`no*`): each name in its directory that it matches, as the shell
   * would expand it, resolved; no match leaves the word as it is (the shell's default).
   */
  private async resolveGlob(written: string, home: string): Promise<string[]> {
    const name = path.posix.basename(written);
    if (!/[*?[]/.test(name)) return [await this.resolve(written, home)];
    const dir = path.posix.dirname(written);
    const sftp = await this.sftp();
    const inDir = await this.resolve(dir, home);
    const entries = await call<{ filename: string }[]>((cb) => sftp.readdir(inDir, cb)).catch((e: { code?: number }) => (e.code === NO_SUCH_FILE ? [] : Promise.reject(e)));
    const matches = entries.map((e) => e.filename).filter((f) => f !== "." && f !== ".." && globMatches(name, f));
    if (matches.length > MAX_PATHS) throw new Error("too many paths");
    return Promise.all((matches.length ? matches : [name]).map((m) => this.resolve(`${inDir}/${m}`, home)));
  }

  /**
   * The absolute path `written` leads to (relative ones from `home`, `~` and `$HOME` the home):
   * symlinks followed; a name that does not exist yet is its existing directory's, plus the name.
   */
  private async resolve(written: string, home: string): Promise<string> {
    const expanded = written.replace(/^(~\+?|\$HOME|\$\{HOME\})(?=\/|$)/, home);
    if (/^~/.test(expanded)) throw new Error(`another user's home directory: ${written}`); // ~user, ~-: not known here
    const sftp = await this.sftp();
    let at = path.posix.isAbsolute(expanded) ? expanded : `${home}/${expanded}`;
    const missing: string[] = [];
    for (let i = 0; i < MAX_MISSING; i++) {
      try {
        const real = await call<string>((cb) => sftp.realpath(at, cb));
        return [real, ...missing].join("/").replace(/\/\/+/g, "/");
      } catch (err) {
        if ((err as { code?: number }).code !== NO_SUCH_FILE || at === "/") throw err;
        // A symlink whose target is missing would be created through: where, only its target says.
        const linked = await call<Stats>((cb) => sftp.lstat(at, cb)).then(
          () => true,
          (e: { code?: number }) => (e.code === NO_SUCH_FILE ? false : Promise.reject(e)),
        );
        if (linked) throw new Error(`a link to a place that does not exist: ${at}`);
        missing.unshift(path.posix.basename(at));
        at = path.posix.dirname(at);
      }
    }
    throw new Error(`too deep: ${written}`);
  }

  private sftp(): Promise<SFTPWrapper> {
    this.session ??= call<SFTPWrapper>((cb) => this.client.sftp(cb));
    // a failed session is asked again next time (the host may have been busy), not remembered
    this.session.catch(() => (this.session = this.homeDir = null));
    return this.session;
  }
}

/** One SFTP call, bounded in time. */
function call<T>(start: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the upstream host did not answer in time")), RESOLVE_TIMEOUT_MS);
    start((err, value) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value);
    });
  });
}

/**
 * The same judgement for a caller with no upstream connection yet: MCP's run_ssh_command decides
 * before it connects (ssh-exec.ts), so an ordinary write opens one short connection to ask,
 * closed after. One that cannot be made leaves the write admin.
 */
export async function judgeOnTarget(db: Db, target: UpstreamTarget, request: ClassifiedRequest, paths: readonly string[], atLeast?: RequestKind): Promise<ClassifiedRequest> {
  if (request.kind !== "write" || paths.length === 0) return atLeastKind(request, atLeast);
  let client: Client;
  try {
    client = await connectUpstream(db, target);
  } catch {
    return { ...request, kind: "admin" };
  }
  try {
    return await new UpstreamPaths(client).judge(request, paths, atLeast);
  } finally {
    client.end();
  }
}

/**
 * Why a request judged before a wait (an approver, policy, the database) must not run now: asked
 * again right before it runs, the host answers otherwise (a plain directory swapped for a link
 * into ~/.ssh while the write waited for its approver). Null when the answer is the same. What
 * was approved was the write as the host made it then; a changed one is refused, not re-held: the
 * user runs it again and it is decided as it now is.
 */
export function changedOnHost(before: ClassifiedRequest, now: ClassifiedRequest): string | null {
  return now.kind === before.kind ? null : `where its paths lead changed on the host while it waited (now ${now.kind}); run it again`;
}

const byClient = new WeakMap<Client, UpstreamPaths>();

/** The one UpstreamPaths of an upstream connection. */
export function upstreamPaths(client: Client): UpstreamPaths {
  let paths = byClient.get(client);
  if (!paths) byClient.set(client, (paths = new UpstreamPaths(client)));
  return paths;
}
