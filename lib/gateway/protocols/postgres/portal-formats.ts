import { binaryConvertible, textToBinary } from "./binary-results";
import type { Portal } from "./extended";
import { ProtocolError, type FieldDescription } from "./wire";

/**
 * Result formats of extended-protocol portals. On a masked connection the gateway asks upstream
 * for text (Portal.textUpstream), masks the text, and converts each value back to the binary
 * format the client's Bind asked for (binary-results.ts); these decide per column what to do.
 */

/** A portal's columns: from Describe P, else the statement's cached description with Bind's formats. */
export function fieldsOfPortal(portal: Portal | null): FieldDescription[] | null {
  if (!portal) return null;
  if (portal.fields) return portal.fields;
  const base = portal.statement?.fields;
  if (!base) return null;
  // The upstream sends what it was asked for: text when the gateway rewrote the Bind.
  return base.map((f, i) => ({ ...f, format: portal.textUpstream ? 0 : clientFormat(portal.resultFormats, i) }));
}

/** Bind's result-format rule: none = all text, one = for all columns, else one per column. */
export function clientFormat(rf: readonly number[], i: number): number {
  return rf.length === 0 ? 0 : rf.length === 1 ? rf[0] : (rf[i] ?? 0);
}

/**
 * Per column: the type OID to encode in binary, or null to keep text. Refuses types it cannot
 * encode (and dates unless the upstream's DateStyle is ISO, floats unless their text is exact).
 */
export function conversionFor(portal: Portal | null, isoDates: boolean, exactFloats = true): (number | null)[] {
  const fields = fieldsOfPortal(portal);
  if (!portal || !fields) throw new ProtocolError("gatehouse: binary results of a portal that was never described cannot be converted on a masked connection; request text results", "0A000");
  return fields.map((x, i) => {
    if (clientFormat(portal.resultFormats, i) === 0) return null;
    if (!binaryConvertible(x.typeOid, isoDates, exactFloats)) {
      const why = !binaryConvertible(x.typeOid, true) ? "" : !isoDates && !binaryConvertible(x.typeOid, false) ? " while DateStyle is not ISO" : " once extra_float_digits may be 0 or less";
      throw new ProtocolError(`gatehouse: binary results for column "${x.name}" (type oid ${x.typeOid}) are not available on a masked connection${why}; request text results`, "0A000");
    }
    return x.typeOid;
  });
}

/**
 * Masked text values → the formats the client bound, per `conversionFor`. A value masking left
 * unchanged must convert (else the client would get what it did not ask for: refused); a masked
 * one that no longer fits its column's type is withheld (NULL).
 */
export function toClientFormats(conversion: readonly (number | null)[], masked: (Buffer | null)[], original: readonly (Buffer | null)[]): (Buffer | null)[] {
  const out = masked.slice();
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (v === null || conversion[i] === null || conversion[i] === undefined) continue;
    const b = textToBinary(conversion[i]!, v.toString("utf8"));
    if (b) out[i] = b;
    else if (v === original[i]) throw new ProtocolError(`gatehouse: a value of type oid ${conversion[i]} could not be converted to binary; request text results on this masked connection`, "0A000");
    else out[i] = null; // masked into something that is no longer of the column's type: withheld
  }
  return out;
}
