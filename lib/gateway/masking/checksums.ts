/**
 * Checksums that separate real identifiers from look-alike numbers. A card number that fails
 * Luhn or an IBAN that fails mod-97 is NOT masked: masking every 16-digit id would make query
 * results useless, and the checksum is what the issuer guarantees.
 *
 * All functions read digits straight out of the text (skipping separators) so the scanner can
 * call them without slicing.
 */

/** Luhn check over the ASCII digits of text[start, end); other characters are skipped. */
export function luhnValid(text: string, start: number, end: number): boolean {
  let sum = 0;
  let double = false;
  let count = 0;
  for (let i = end - 1; i >= start; i--) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) continue;
    let v = d;
    if (double) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    double = !double;
    count++;
  }
  return count > 0 && sum % 10 === 0;
}

/** The digit that makes `partial` (digits only) Luhn-valid when appended. Used by tests/bench. */
export function luhnCheckDigit(partial: string): number {
  for (let d = 0; d <= 9; d++) {
    const candidate = partial + d;
    if (luhnValid(candidate, 0, candidate.length)) return d;
  }
  throw new Error("unreachable: some digit always completes a Luhn sum");
}

/**
 * ISO 13616 check: move the first four characters to the end, map letters to 10..35, and the
 * number mod 97 must be 1. Computed incrementally (no BigInt). Spaces in [start, end) are
 * skipped; any other non-alphanumeric character fails the check.
 */
export function ibanValid(text: string, start: number, end: number): boolean {
  // Find where the 5th significant character starts, so we can rotate without slicing.
  let rotateAt = start;
  let seen = 0;
  while (rotateAt < end && seen < 4) {
    if (text.charCodeAt(rotateAt) !== 32) seen++;
    rotateAt++;
  }
  if (seen < 4) return false;
  const r = mod97(text, rotateAt, end, 0);
  return r >= 0 && mod97(text, start, rotateAt, r) === 1;
}

function mod97(text: string, start: number, end: number, acc: number): number {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 32) continue;
    if (c >= 48 && c <= 57) acc = (acc * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) acc = (acc * 100 + (c - 55)) % 97;
    else return -1;
  }
  return acc;
}

/** Compute the two check digits for a country code + BBAN (tests and bench build valid IBANs). */
export function ibanCheckDigits(country: string, bban: string): string {
  const probe = country + "00" + bban;
  const rotated = probe.slice(4) + probe.slice(0, 4);
  const r = mod97(rotated, 0, rotated.length, 0);
  const check = 98 - r;
  return check < 10 ? "0" + check : String(check);
}

/**
 * SSA rules for a syntactically valid SSN: area 000, 666 and 900–999 were never issued, nor
 * group 00 or serial 0000. (Randomized issuance since 2011 made everything else possible.)
 */
export function ssnValid(area: number, group: number, serial: number): boolean {
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}
