/**
 * CPU per masked DataRow, in process: the rows of bench:postgres's masked fetch (id, email, ssn,
 * card_number under the shipped "pii" rules) framed, masked and rebuilt as the relay does inline.
 * Usage: npx tsx bench/postgres/masked-rows.ts [rows] [run: rows per run handed to the masking worker]
 */
import path from "node:path";
import { compileMasker, type ColumnRef } from "@/lib/gateway/masking";
import { DEFAULT_MASKING_RULES } from "@/lib/gateway/core/masking-runtime";
import { maskRow, type FieldPlan } from "@/lib/gateway/protocols/postgres/masking";
import { MaskedRowWriter } from "@/lib/gateway/protocols/postgres/row-writer";
import { MaskPool } from "@/lib/gateway/protocols/postgres/mask-pool";
import { MaskedRuns } from "@/lib/gateway/protocols/postgres/masked-runs";
import { DEFAULT_SAMPLE, ResultUnit } from "@/lib/gateway/protocols/postgres/unit";
import { build, FrameReader, parseBackendMessage, type Frame } from "@/lib/gateway/protocols/postgres/wire";

const ROWS = Number(process.argv[2] ?? 200_000);
const PII = DEFAULT_MASKING_RULES.filter((r) => r.ruleSet === "pii").map((r) => ({ id: r.name, name: r.name, enabled: true, ...r.definition }));
const masker = compileMasker(PII, { hashKey: "bench-key", channel: "sql" });
const ref = (column: string): ColumnRef => ({ connection: "bench", schema: "public", table: "people", column });
const plans: FieldPlan[] = ["id", "email", "ssn", "card_number"].map((c) => {
  const p = masker.columnPlan(ref(c));
  return { plans: p ? [p] : [], refs: p ? [ref(c)] : [], binary: false, label: c };
});
const pad = (n: number, w: number) => String(n).padStart(w, "0");
const rows: Buffer[] = [];
for (let g = 1; g <= ROWS; g++) {
  const ssn = `${pad(100 + (g % 800), 3)}-${pad(10 + (g % 89), 2)}-${pad(1000 + (g % 8999), 4)}`;
  rows.push(build.dataRow([String(g), `user${g}@example.com`, ssn, "4111111111111111"].map((v) => Buffer.from(v))));
}
const stream = Buffer.concat(rows);
/** The DataRow frames, read once: each measure below times only its masking. */
const frames: Frame[] = [];
{
  const reader = new FrameReader();
  reader.push(stream);
  for (let f = reader.next(); f; f = reader.next()) frames.push(f);
}

/** CPU µs per row of `work` (which returns the bytes it wrote; none means it did nothing). */
function cpuPerRow(work: () => number): number {
  const t = process.cpuUsage();
  if (work() === 0) throw new Error("nothing out");
  const d = process.cpuUsage(t);
  return (d.user + d.system) / ROWS;
}

/** Inline, as masked-runs.ts does without the worker: one MaskedRowWriter per run of INLINE_RUN rows. */
const INLINE_RUN = 1000;
function run(): number {
  return cpuPerRow(() => {
    let bytes = 0;
    for (let i = 0; i < frames.length; i += INLINE_RUN) {
      const writer = new MaskedRowWriter(plans, masker, 64 * 1024);
      for (let k = i; k < i + INLINE_RUN && k < frames.length; k++) writer.row(frames[k]);
      bytes += writer.bytes().length;
    }
    return bytes;
  });
}

/** Row by row, as relay.ts masks the rows it samples: parse, maskRow, rebuild. */
function runPerRow(): number {
  return cpuPerRow(() => {
    let bytes = 0;
    for (const f of frames) {
      const m = parseBackendMessage(f);
      const out = m.type === "DataRow" ? maskRow(m.values, plans, masker) : null;
      bytes += out ? build.dataRow(out.values).length : f.raw.length;
    }
    return bytes;
  });
}

function best(fn: () => number): string {
  fn();
  const times = Array.from({ length: 5 }, fn).sort((a, b) => a - b);
  return `${times[0].toFixed(3)} µs/row (best of 5; median ${times[2].toFixed(3)})`;
}
console.log(`masked DataRow, row by row (parse, maskRow, rebuild): ${best(runPerRow)}`);
console.log(`masked DataRow, runs through MaskedRowWriter: ${best(run)}`);

/** As the relay does with the masking worker: runs of RUN rows, half of each masked on the worker. */
async function runPooled(pool: MaskPool, runRows: number): Promise<number> {
  let bytes = 0;
  const runs = new MaskedRuns({ write: (b) => void (bytes += b.length), flush: () => {}, fatal: (e) => { throw e; } });
  const unit = new ResultUnit(1, masker, DEFAULT_SAMPLE);
  const t = process.cpuUsage();
  for (let i = 0; i < frames.length; i += runRows) await runs.mask(frames.slice(i, i + runRows), plans, unit, masker, pool);
  await runs.after(() => {});
  const d = process.cpuUsage(t);
  if (bytes === 0) throw new Error("nothing out");
  return (d.user + d.system) / ROWS;
}

const RUN = Number(process.argv[3] ?? 0);
if (RUN > 0) {
  const pool = new MaskPool(path.join(import.meta.dirname, "../../lib/gateway/protocols/postgres/mask-worker.ts"));
  await runPooled(pool, RUN);
  const pooled: number[] = [];
  for (let i = 0; i < 5; i++) pooled.push(await runPooled(pool, RUN));
  pooled.sort((a, b) => a - b);
  console.log(`masked DataRow, half on the worker in runs of ${RUN}: ${pooled[0].toFixed(3)} µs/row, all threads (best of 5; median ${pooled[2].toFixed(3)})`);
  await pool.stop();
}
