import { storableJson } from "@/lib/util/storable-json";

/**
 * A recorded event's payload as JSON for jsonb: one string with NUL or an unpaired surrogate in
 * a Bind parameter would otherwise poison every retry of its batch (lib/util/storable-json.ts).
 */
export function serialize(payload: Record<string, unknown>): string {
  return storableJson(payload);
}
