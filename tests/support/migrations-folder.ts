import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const FOLDER = path.resolve(import.meta.dirname, "../../db/migrations");

/**
 * A migrations folder holding the migrations up to `tag` (as an older Gatehouse shipped them),
 * for any store: migrate with it, write data in the old shape, then migrate with db/migrations.
 */
export function migrationsFolderUpTo(tag: string): { folder: string; remove(): void } {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), "gh-migrations-"));
  const journal = JSON.parse(fs.readFileSync(path.join(FOLDER, "meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };
  const upTo = journal.entries.findIndex((e) => e.tag === tag);
  if (upTo < 0) throw new Error(`no migration ${tag}`);
  const entries = journal.entries.slice(0, upTo + 1);
  fs.mkdirSync(path.join(folder, "meta"));
  fs.writeFileSync(path.join(folder, "meta/_journal.json"), JSON.stringify({ ...journal, entries }));
  for (const e of entries) fs.copyFileSync(path.join(FOLDER, `${e.tag}.sql`), path.join(folder, `${e.tag}.sql`));
  return { folder, remove: () => fs.rmSync(folder, { recursive: true, force: true }) };
}
