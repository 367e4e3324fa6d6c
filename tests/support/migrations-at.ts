import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";

const FOLDER = path.resolve(import.meta.dirname, "../../db/migrations");

/**
 * A fresh embedded database migrated up to `tag` (as an older Gatehouse left it): data can be
 * written in the old shape, then `rest()` applies the migrations after it.
 */
export async function migratedUpTo(tag: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-migrations-"));
  const journal = JSON.parse(fs.readFileSync(path.join(FOLDER, "meta/_journal.json"), "utf8")) as { entries: { tag: string }[] };
  const entries = journal.entries.slice(0, journal.entries.findIndex((e) => e.tag === tag) + 1);
  fs.mkdirSync(path.join(dir, "meta"));
  fs.writeFileSync(path.join(dir, "meta/_journal.json"), JSON.stringify({ ...journal, entries }));
  for (const e of entries) fs.copyFileSync(path.join(FOLDER, `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
  const client = new PGlite();
  const db = drizzle(client);
  await migrate(db, { migrationsFolder: dir });
  return {
    client,
    rest: () => migrate(db, { migrationsFolder: FOLDER }),
    close: async () => {
      await client.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
