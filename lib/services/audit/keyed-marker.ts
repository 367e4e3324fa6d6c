import fs from "node:fs";
import path from "node:path";

/**
 * What this data dir knows of the audit log: that it was keyed, from which row, which key it is
 * under now, and from which row that key is in force (its newest rotation, if any).
 * Kept outside the database on purpose: someone who can write to the database can strip the
 * keyed rows and relink the log with plain hashes; without this, the next start would key that
 * rewritten log afresh and `audit verify` would call it intact. Likewise, someone who holds a
 * retired key could cut the log off at its rotation and continue it under that key.
 */
export interface KeyedMarker {
  seq: number;
  keyId: string;
  rotatedAt?: number;
}

const FILE = "audit-keyed.json";

export function readKeyedMarker(dataDir: string): KeyedMarker | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const m = JSON.parse(text) as Partial<KeyedMarker>;
  // unreadable is not "never keyed": the start stops rather than key a log afresh
  if (typeof m.seq !== "number" || typeof m.keyId !== "string" || (m.rotatedAt !== undefined && typeof m.rotatedAt !== "number")) {
    throw new Error(`${path.join(dataDir, FILE)} is not a keyed-log marker; restore it or remove it knowingly`);
  }
  return { seq: m.seq, keyId: m.keyId, ...(m.rotatedAt === undefined ? {} : { rotatedAt: m.rotatedAt }) };
}

export function writeKeyedMarker(dataDir: string, marker: KeyedMarker): void {
  const file = path.join(dataDir, FILE);
  const prior = readKeyedMarker(dataDir);
  if (prior?.seq === marker.seq && prior.keyId === marker.keyId && prior.rotatedAt === marker.rotatedAt) return;
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(marker) + "\n", { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}
