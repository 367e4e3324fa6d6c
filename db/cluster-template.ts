import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * PGlite's initdb is most of a first start (3–5 s of CPU, more than Next.js and the migrations
 * together) and makes the same cluster every time for the same PGlite and start parameters. The
 * first one this installation makes is kept, and later new data dirs (another `GATEHOUSE_DATA_DIR`,
 * the demo database, every test's server) are copies of it.
 *
 * Kept beside the code that made it, in `node_modules/.cache/gatehouse-pglite/<key>`: whoever can
 * write there can already change what runs. A template that is not ours alone (another owner, or
 * writable by group or others) is not used; neither is one whose copy fails: initdb runs instead.
 * A template is published by renaming a finished copy into place, so a reader never sees half of
 * one. The copies share the cluster's system identifier, which only replication reads.
 */
export interface ClusterTemplates {
  /** Copies the template into `dir` (absent); false when there is none to use. */
  copyTo(dir: string): boolean;
  /** Keeps the freshly made, closed cluster in `dir` as the template (best effort). */
  keep(dir: string): void;
}

/**
 * The templates for clusters started with `startParams`, under `root` (default: beside PGlite), or
 * null when there is nowhere to keep them. `contents` names what the cluster holds beyond initdb's
 * (Gatehouse's store: the digest of the migrations applied), so that each kind has its own.
 */
export function clusterTemplates(startParams: readonly string[], root = defaultRoot(), contents: Record<string, string> = {}): ClusterTemplates | null {
  const pglite = pgliteVersion();
  if (!root || !pglite) return null;
  const key = createHash("sha256").update(JSON.stringify({ pglite, startParams, ...contents })).digest("hex").slice(0, 16);
  const template = path.join(root, key);
  return {
    copyTo(dir) {
      if (!trusted(template)) return false;
      try {
        fs.cpSync(template, dir, { recursive: true, mode: fs.constants.COPYFILE_FICLONE });
        return true;
      } catch (err) {
        fs.rmSync(dir, { recursive: true, force: true });
        console.warn(`[db] could not copy the cluster template ${template}, running initdb: ${(err as Error).message}`);
        return false;
      }
    },
    keep(dir) {
      const partial = `${template}.${process.pid}.partial`;
      try {
        fs.mkdirSync(root, { recursive: true, mode: 0o700 });
        fs.cpSync(dir, partial, { recursive: true, mode: fs.constants.COPYFILE_FICLONE });
        fs.chmodSync(partial, 0o700);
        fs.renameSync(partial, template);
      } catch {
        // another process published it first, or the cache is not writable: initdb next time too
        fs.rmSync(partial, { recursive: true, force: true });
      }
    },
  };
}

function trusted(template: string): boolean {
  try {
    const st = fs.statSync(template);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0 && fs.existsSync(path.join(template, "PG_VERSION"));
  } catch {
    return false;
  }
}

/** PGlite's package directory, found the way the server and the initdb child import it. */
function pgliteDir(): string | null {
  try {
    const entry = fileURLToPath(import.meta.resolve("@electric-sql/pglite"));
    const at = entry.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    return at < 0 ? null : path.join(entry.slice(0, at), "node_modules", "@electric-sql", "pglite");
  } catch {
    const beside = path.join(process.cwd(), "node_modules", "@electric-sql", "pglite");
    return fs.existsSync(beside) ? beside : null;
  }
}

function pgliteVersion(): string | null {
  const dir = pgliteDir();
  try {
    return dir ? String(JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version) : null;
  } catch {
    return null;
  }
}

function defaultRoot(): string | null {
  const dir = pgliteDir();
  return dir ? path.join(dir, "..", "..", ".cache", "gatehouse-pglite") : null;
}
