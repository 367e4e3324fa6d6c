/**
 * Worker thread that masks DataRows for the relay (mask-pool.ts): the same maskers, compiled here
 * from the recipe the relay's masker was compiled from, the same plans, remade from the columns
 * they were made for, and the same row writer (row-writer.ts). It returns the rows to send, the number of masked
 * cells and the rule counts it made, which the relay adds to its own masker.
 */
import { parentPort, workerData } from "node:worker_threads";
import { compileMasker, type ColumnRef, type Masker, type MaskerOptions, type MaskingRule } from "@/lib/gateway/masking";
import { wholeFirst, type FieldPlan } from "./masking";
import { MaskedRowWriter } from "./row-writer";
import { FrameReader } from "./wire";

export type ToWorker =
  | { t: "masker"; id: number; rules: MaskingRule[]; opts: MaskerOptions }
  | { t: "forget"; id: number }
  | { t: "rows"; job: number; masker: number; fields: FieldSpec[]; frames: Uint8Array };

export type FromWorker = { job: number; out: Uint8Array; masked: number; counts: ReturnType<Masker["counts"]> } | { job: number; error: string };

/** What remakes a FieldPlan: its columns (refs), whether the value is binary, or a bytea. */
export interface FieldSpec {
  refs: ColumnRef[];
  binary: boolean;
  label: string;
  bytea?: boolean;
}

const maskers = new Map<number, { masker: Masker; plans: Map<string, FieldPlan[]> }>();

function plansFor(entry: { masker: Masker; plans: Map<string, FieldPlan[]> }, fields: FieldSpec[]): FieldPlan[] {
  const key = JSON.stringify(fields);
  let plans = entry.plans.get(key);
  if (!plans) {
    plans = fields.map((f) => {
      const made = wholeFirst(f.refs.flatMap((ref) => {
        const plan = entry.masker.columnPlan(ref);
        return plan ? [{ plan, ref }] : [];
      }));
      return { plans: made.map((m) => m.plan), refs: made.map((m) => m.ref), binary: f.binary, label: f.label, bytea: f.bytea };
    });
    if (entry.plans.size > 64) entry.plans.clear();
    entry.plans.set(key, plans);
  }
  return plans;
}

function maskFrames(msg: Extract<ToWorker, { t: "rows" }>): FromWorker {
  const entry = maskers.get(msg.masker);
  if (!entry) throw new Error(`unknown masker ${msg.masker}`);
  const plans = plansFor(entry, msg.fields);
  const reader = new FrameReader();
  reader.push(Buffer.from(msg.frames.buffer, msg.frames.byteOffset, msg.frames.byteLength));
  // unpooled (MaskedRowWriter): its memory can be transferred
  const writer = new MaskedRowWriter(plans, entry.masker, msg.frames.byteLength);
  for (let f = reader.next(); f; f = reader.next()) writer.row(f);
  if (reader.buffered > 0) throw new Error("incomplete frame in a batch of rows");
  const counts = entry.masker.counts();
  entry.masker.resetCounts();
  return { job: msg.job, out: writer.bytes(), masked: writer.masked, counts };
}

// Only in a thread the pool started (vitest, for one, runs test files in worker threads too).
if (workerData?.gatehouseMaskWorker) parentPort!.on("message", (msg: ToWorker) => {
  if (msg.t === "masker") maskers.set(msg.id, { masker: compileMasker(msg.rules, msg.opts), plans: new Map() });
  else if (msg.t === "forget") maskers.delete(msg.id);
  else {
    let reply: FromWorker;
    try {
      reply = maskFrames(msg);
    } catch (err) {
      reply = { job: msg.job, error: (err as Error).message };
    }
    parentPort!.postMessage(reply, "out" in reply ? [reply.out.buffer as ArrayBuffer] : []);
  }
});
