import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Masker } from "@/lib/gateway/masking";
import { maskerInternals } from "@/lib/gateway/masking/masker";
import type { FieldPlan } from "./masking";
import type { FieldSpec, FromWorker, ToWorker } from "./mask-worker";

/**
 * Masks DataRows on a second core. Masking a large result keeps the relay's thread busy (detector
 * scans and an HMAC per hashed value: ~6 µs a row) while the machine's other cores wait; the relay
 * hands half of each run of rows it has received to this worker and masks the other half itself,
 * then writes both halves in order (relay.ts). Results stay streamed: a run is what one socket
 * read brought.
 *
 * Fail closed: a job that fails (the worker crashed, a frame it could not parse) rejects, the
 * relay ends the session with an error, and none of that run's rows is sent. Without a second
 * CPU, or when the worker's file is missing, `available` is false and the relay masks inline.
 * The worker starts at the first large masked result and stops after IDLE_STOP_MS without one,
 * so idle gateways do not pay for it (~20 MB).
 */
const IDLE_STOP_MS = 60_000;

export class MaskPool {
  private worker: Worker | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** maskers the current worker has compiled */
  private known = new Set<number>();
  private readonly jobs = new Map<number, { resolve(r: { out: Buffer; masked: number }): void; reject(e: Error): void; masker: Masker }>();
  private nextJob = 1;
  private readonly ids = new WeakMap<Masker, number>();
  private nextMasker = 1;
  private readonly specs = new WeakMap<readonly FieldPlan[], FieldSpec[]>();
  /** a masker the relay no longer holds: the worker drops its copy */
  private readonly gone = new FinalizationRegistry<number>((id) => {
    if (this.known.delete(id)) this.worker?.postMessage({ t: "forget", id } satisfies ToWorker);
  });

  constructor(private readonly file: string | null) {}

  get available(): boolean {
    return this.file !== null;
  }

  /** Masks DataRow frames (all of one result, with its plans); resolves with the rows to send. */
  mask(masker: Masker, plans: readonly FieldPlan[], frames: readonly Buffer[]): Promise<{ out: Buffer; masked: number }> {
    const worker = this.start();
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const id = this.idOf(masker);
    if (!this.known.has(id)) {
      const { rules, opts } = maskerInternals(masker).recipe;
      worker.postMessage({ t: "masker", id, rules: [...rules], opts } satisfies ToWorker);
      this.known.add(id);
    }
    const job = this.nextJob++;
    const batch = unpooledConcat(frames);
    return new Promise((resolve, reject) => {
      this.jobs.set(job, { resolve, reject, masker });
      worker.postMessage({ t: "rows", job, masker: id, fields: this.specOf(plans), frames: batch } satisfies ToWorker, [batch.buffer as ArrayBuffer]);
    });
  }

  /** Ends the worker (tests; a server just exits: the worker does not keep it alive). */
  async stop(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = this.worker;
    this.worker = null;
    this.known = new Set();
    for (const job of this.jobs.values()) job.reject(new Error("masking worker stopped"));
    this.jobs.clear();
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const file = this.file!;
    const workerData = { gatehouseMaskWorker: true };
    // The bundle runs on Node alone; the TypeScript source (dev, tests) is loaded through tsx.
    const worker = file.endsWith(".ts")
      ? new Worker(`import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(file).href)}); })`, { eval: true, workerData })
      : new Worker(file, { workerData });
    worker.unref();
    console.log("[postgres] masking worker started: large masked results are masked on two cores");
    worker.on("message", (msg: FromWorker) => {
      const job = this.jobs.get(msg.job);
      if (!job) return;
      this.jobs.delete(msg.job);
      if (this.jobs.size === 0) {
        this.idleTimer = setTimeout(() => void this.stop(), IDLE_STOP_MS);
        this.idleTimer.unref();
      }
      if ("error" in msg) return job.reject(new Error(`masking worker: ${msg.error}`));
      maskerInternals(job.masker).addCounts(msg.counts);
      job.resolve({ out: Buffer.from(msg.out.buffer, msg.out.byteOffset, msg.out.byteLength), masked: msg.masked });
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.known = new Set();
      for (const job of this.jobs.values()) job.reject(new Error(`masking worker stopped: ${err.message}`));
      this.jobs.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exit code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private idOf(masker: Masker): number {
    let id = this.ids.get(masker);
    if (id === undefined) {
      id = this.nextMasker++;
      this.ids.set(masker, id);
      this.gone.register(masker, id);
    }
    return id;
  }

  private specOf(plans: readonly FieldPlan[]): FieldSpec[] {
    let spec = this.specs.get(plans);
    if (!spec) {
      spec = plans.map((p) => ({ refs: p.refs ?? [], binary: p.binary, label: p.label, bytea: p.bytea }));
      this.specs.set(plans, spec);
    }
    return spec;
  }
}

/**
 * One buffer that owns its memory, so it can be transferred: Buffer.concat of a small total
 * takes a slice of Node's shared pool, and transferring that would detach the whole pool.
 */
export function unpooledConcat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** mask-worker.mjs beside the server bundle, or mask-worker.ts beside this file (tsx); null without. */
function workerFile(): string | null {
  if (os.availableParallelism() < 2) return null;
  const here = fileURLToPath(import.meta.url);
  const file = path.join(path.dirname(here), here.endsWith(".ts") ? "mask-worker.ts" : "mask-worker.mjs");
  return fs.existsSync(file) ? file : null;
}

let pool: MaskPool | null = null;

/** The process's pool (GATEHOUSE_MASK_WORKER=0 switches it off: everything is masked inline). */
export function maskPool(): MaskPool {
  return (pool ??= new MaskPool(process.env.GATEHOUSE_MASK_WORKER === "0" ? null : workerFile()));
}
