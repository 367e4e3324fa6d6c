/**
 * What sealing costs (lib/services/sessions/seal.ts) and what credential scrubbing costs
 * (lib/gateway/recorder/credential-scrub.ts), on a 1-hour, ~100 MB terminal recording, each as a
 * ratio against a direct baseline in the same run:
 *   - seal: reading the stored events back and hashing them (scheme v2: each payload's canonical
 *     JSON), against only reading them back (the least any read-back costs); both on the embedded
 *     PGlite. That is what `sessions verify` costs, and sealing a session the next start ended; a
 *     session ended by the process that recorded it is sealed with the chain computed as its
 *     events were stored (~3–4 µs an event on the write path), without reading anything back;
 *   - scrub: the recorded output, 32 KiB at a time, through scrubBytes, against copying it
 *     (Buffer.from), the least work per chunk; MB/s of each.
 * Usage: npx tsx bench/recorder/seal.ts [--mb 100] [--minutes 60]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openPglite } from "@/db/client";
import { walkStoredEvents } from "@/db/queries/sessions";
import { scrubBytes } from "@/lib/gateway/recorder/credential-scrub";
import { unpackPayload } from "@/lib/gateway/recorder/packed-output";
import { RecordingDigest } from "@/lib/gateway/recorder/recording-digest";
import { seedTerminalSession, syntheticShellRecording } from "../../tests/support/terminal-recording";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MB = arg("mb", 100);
const MINUTES = arg("minutes", 60);

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-bench-seal-"));
  try {
    const handle = await openPglite(path.join(dataDir, "db"));
    const seeded = await seedTerminalSession(handle.db, {}, syntheticShellRecording({ durationMs: MINUTES * 60_000, bytes: MB * 1_000_000 }));
    console.log(`recording: ${MINUTES} min, ~${MB} MB of output in ${seeded.events} events`);

    let t0 = performance.now();
    let n = 0;
    const output: Buffer[] = [];
    for await (const e of walkStoredEvents(handle.db, seeded.id)) {
      n++;
      const p = unpackPayload(e.kind, JSON.parse(e.payload) as Record<string, unknown>, e.data);
      if (typeof p.d === "string") output.push(Buffer.from(p.d));
    }
    const readMs = performance.now() - t0;
    t0 = performance.now();
    const digest = new RecordingDigest();
    for await (const e of walkStoredEvents(handle.db, seeded.id)) digest.add(e);
    const sealMs = performance.now() - t0;
    console.log(`seal: ${digest.seal().events} events in ${Math.round(sealMs)} ms; reading them back alone (and unpacking): ${Math.round(readMs)} ms of ${n}; ratio ${(sealMs / readMs).toFixed(2)}`);
    await handle.close();

    const all = Buffer.concat(output);
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i += 32 * 1024) chunks.push(all.subarray(i, i + 32 * 1024));
    const mb = all.length / 1e6;
    t0 = performance.now();
    for (const c of chunks) Buffer.from(c);
    const copyMs = performance.now() - t0;
    t0 = performance.now();
    let carry: Buffer | null = null;
    for (const c of chunks) carry = scrubBytes(carry ? Buffer.concat([carry, c]) : c, false).hold;
    const scrubMs = performance.now() - t0;
    console.log(`scrub: ${mb.toFixed(0)} MB in ${chunks.length} chunks: ${Math.round(mb / (scrubMs / 1000))} MB/s (${((scrubMs * 1000) / chunks.length).toFixed(1)} µs per 32 KiB); copying: ${Math.round(mb / (copyMs / 1000))} MB/s; ratio ${(scrubMs / copyMs).toFixed(2)}`);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
