/**
 * Digits joined by other separators than space, '-' and '.': '_' (identifiers, shell-safe file
 * names), '/', '|' and ':' (a value re-printed by a script). Decided per detector, with dates,
 * times, versions, floats and MAC-like runs kept unmasked.
 */
import { describe, expect, it } from "vitest";
import { DETECTOR_NAMES } from "./catalog";
import { compileMasker } from "./masker";
import { createStreamMasker } from "./stream";

const masker = compileMasker([{ id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" }], { hashKey: "k" });

describe("separators", () => {
  it.each([
    ["card 4111_1111_1111_1111 ok", "card [REDACTED:card] ok"],
    ["card 4111/1111/1111/1111 ok", "card [REDACTED:card] ok"],
    ["card 4111|1111|1111|1111 ok", "card [REDACTED:card] ok"],
    ["card 4111:1111:1111:1111 ok", "card [REDACTED:card] ok"],
    ["card 4111.1111.1111.1111 ok", "card [REDACTED:card] ok"],
    ["amex 3782_822463_10005 ok", "amex [REDACTED:card] ok"],
    ["ssn 123_45_6789 ok", "ssn [REDACTED:ssn] ok"],
    ["ssn 123/45/6789 ok", "ssn [REDACTED:ssn] ok"],
    ["ssn 123.45.6789 ok", "ssn [REDACTED:ssn] ok"],
    ["tel 555_123_4567 ok", "tel [REDACTED:phone] ok"],
    ["tel 030/901820 ok", "tel [REDACTED:phone] ok"],
  ])("%s is masked", (text, masked) => {
    expect(masker.maskText(text)).toBe(masked);
  });

  it.each([
    "at 2024/11/27 12:34:56.789 done",
    "at 2024-11-27T12:34:56Z",
    "elapsed 01:23:45:67:89 frames",
    "mac 00:11:22:33:44 (digits only)",
    "pi 3.1415926535897932 and e 2.718281828459045",
    "v 4.1111.1111.1111.1",
    "id job_4111_1111_1111_1111",
    "row 4111_1111_1111_1111_x",
    "cols 123|45|6789 and 555|123|4567 and 555:123:4567",
    // (a card grouped by commas is masked since round 3: tab-comma-hunt3.test.ts)
    "csv 1,234,567,890,123,456",
    "ratio 12/34/56",
  ])("%s is left alone", (text) => {
    expect(masker.maskText(text)).toBe(text);
  });

  it("a value with a new separator split across chunks streams masked", () => {
    const text = "x 4111|1111|1111|1111 y\n";
    for (let cut = 0; cut <= text.length; cut++) {
      const s = createStreamMasker(masker);
      expect(s.push(text.slice(0, cut)) + s.push(text.slice(cut)) + s.flush(), `cut ${cut}`).toBe("x [REDACTED:card] y\n");
    }
  });
});

describe("values next to the new separators still end there", () => {
  it.each([
    ["from 10.0.0.1:5432 to 192.168.1.255/24.", "from [REDACTED:ipv4]:5432 to [REDACTED:ipv4]/24."],
    ["pay 4111111111111111:12/29", "pay [REDACTED:card]:12/29"],
    ["ssn:123-45-6789|ok", "ssn:[REDACTED:ssn]|ok"],
  ])("%s", (text, masked) => {
    expect(masker.maskText(text)).toBe(masked);
  });
});
