import { storableJson } from "@/lib/util/storable-json";
import { canonicalPayload } from "./recording-digest";

/**
 * A recorded event's payload as JSON for jsonb, written canonically: keys sorted, no spacing,
 * numbers and strings as JSON.stringify writes them. That is the spelling the recording's chain
 * links (recording-digest.ts), so the recorder chains the text it stores without parsing and
 * re-writing it (which cost more than the rest of recording an event).
 *
 * Storable too: one string with NUL or an unpaired surrogate in a Bind parameter would otherwise
 * poison every retry of its batch (lib/util/storable-json.ts).
 *
 * The fast path writes plain objects, arrays, strings, finite numbers, booleans and null; anything
 * else (undefined, a Date or Buffer with toJSON, a string that needs cleaning) takes the general
 * path, JSON.stringify then canonicalPayload, which gives the same text for what both can write.
 */
export function serialize(payload: Record<string, unknown>): string {
  const fast = writeValue(payload, 0);
  if (fast !== null && !NEEDS_CLEANING.test(fast)) return fast;
  return canonicalPayload(storableJson(payload));
}

const NEEDS_CLEANING = /\\u(0000|d[89a-f])/i;
const MAX_DEPTH = 64;

/** null: not something the fast path writes */
function writeValue(v: unknown, depth: number): string | null {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? JSON.stringify(v) : null;
    case "boolean":
      return v ? "true" : "false";
    case "object":
      if (v === null) return "null";
      if (depth >= MAX_DEPTH) return null;
      if (Array.isArray(v)) return writeArray(v, depth + 1);
      {
        const proto = Object.getPrototypeOf(v) as unknown;
        return proto === Object.prototype || proto === null ? writeObject(v as Record<string, unknown>, depth + 1) : null;
      }
    default:
      return null;
  }
}

function writeArray(a: readonly unknown[], depth: number): string | null {
  let out = "[";
  for (let i = 0; i < a.length; i++) {
    const item = writeValue(a[i], depth); // a hole reads undefined: the general path
    if (item === null) return null;
    out += i === 0 ? item : "," + item;
  }
  return out + "]";
}

function writeObject(o: Record<string, unknown>, depth: number): string | null {
  const keys = Object.keys(o).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const item = writeValue(o[keys[i]], depth);
    if (item === null) return null;
    out += (i === 0 ? "" : ",") + JSON.stringify(keys[i]) + ":" + item;
  }
  return out + "}";
}
