import { DETECTOR_NAMES } from "./catalog";
import { compileMasker } from "./masker";
import { createStreamMasker } from "./stream";
import type { Masker } from "./types";

/** `text` cut at the positions `cuts` names (each taken modulo the length + 1): how a stream may deliver it. */
export function chunksAt(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let last = 0;
  for (const p of points) {
    chunks.push(text.slice(last, p));
    last = p;
  }
  chunks.push(text.slice(last));
  return chunks;
}

/** A masker with every detector on (redact), as the stream and detector tests use it. */
export function allDetectorsMasker(): Masker {
  return compileMasker([{ id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" }], { hashKey: "k" });
}

/** What a terminal stream masked with `masker` emits for `chunks`, flushed at the end. */
export function streamedThrough(masker: Masker, chunks: readonly string[]): string {
  const s = createStreamMasker(masker);
  return chunks.map((c) => s.push(c)).join("") + s.flush();
}
