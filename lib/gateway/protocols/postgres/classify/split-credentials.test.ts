import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./parser";
import { withoutSecrets } from "./secrets";
import { stringLiterals } from "./string-literals";

/** A Gatehouse token's shape (a compact JWS), and the parts a statement can spell it from. */
const TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyIiwianRpIjoiYWJjIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU";
const [A, B] = [TOKEN.slice(0, 25), TOKEN.slice(25)];
const hex = (s: string) => [...s].map((c) => `\\x${c.charCodeAt(0).toString(16)}`).join("");
const uni = (s: string) => [...s].map((c) => `\\${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");

describe("a Gatehouse credential split over string constants", () => {
  beforeAll(() => initClassifier());

  it.each([
    ["||", `select '${A}' || '${B}' as t`],
    ["concat()", `SELECT concat('${A}', '${B}')`],
    ["format() and a third literal", `select format('%s%s', '${A.slice(0, 10)}', '${A.slice(10)}${B}')`],
    ["E'…' escapes, whole", `select E'${hex(TOKEN)}'`],
    ["E'…' escapes, one part", `select '${A}' || e'${hex(B.slice(0, 5))}${B.slice(5)}'`],
    ["dollar quoting", `select $$${A}$$ || $q$${B}$q$`],
    ["U&'…'", `select U&'${uni(A)}' || '${B}'`],
    ["quote continuation across lines", `select '${A}'\n'${B}'`],
    ["a doubled quote inside", `select 'it''s ${A}' || '${B}'`],
    ["standard_conforming_strings=off", `select '\\145${A.slice(1)}' || '${B}'`],
  ])("%s: every part is cut from what is recorded", (_how, text) => {
    const shown = withoutSecrets(text);
    expect(shown).not.toBeNull();
    expect(shown).toContain("'[REDACTED]'");
    for (const part of [A.slice(3, 20), B.slice(0, 20), B.slice(-20)]) expect(shown, shown!).not.toContain(part);
  });

  it("leaves literals that spell no credential, comments and identifiers alone", () => {
    for (const text of [
      `select 'eyJ' || 'abc', 'x.y.z'`,
      `select $1 || $2 from t where a = 'b'`,
      `select 1 -- '${A}' || '${B}'`,
      `select /* '${A}' */ 'x', "${A}" from t`,
      `select B'0101', X'ff'`,
      `select '${A}' as first_half_only`,
      // whole in one literal: the recorder's scrubbing replaces it with a placeholder of its length
      `select '${TOKEN}' as whole`,
    ]) {
      expect(withoutSecrets(text), text).toBeNull();
    }
  });

  it("reads literals as PostgreSQL does", () => {
    expect(stringLiterals(`select 'a''b', E'\\x41\\n\\101\\u00e9', U&'\\0041\\+00263a', $t$x$y$t$, $$z$$, n'q', b'1' -- 'no'`).map((l) => l.value)).toEqual([
      "a'b",
      "A\nAé",
      "A☺",
      "x$y",
      "z",
      "q",
    ]);
    // a parameter is not a dollar quote; a dollar inside an identifier neither
    expect(stringLiterals(`select $1, a$b$ from t where x = $2`)).toEqual([]);
  });
});
