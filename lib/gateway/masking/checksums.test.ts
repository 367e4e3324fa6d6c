import { describe, expect, it } from "vitest";
import { ibanCheckDigits, ibanValid, luhnCheckDigit, luhnValid, ssnValid } from "./checksums";

const luhn = (s: string) => luhnValid(s, 0, s.length);
const iban = (s: string) => ibanValid(s, 0, s.length);

describe("luhnValid", () => {
  it("accepts published test card numbers", () => {
    for (const card of ["4111111111111111", "5500005555555559", "378282246310005", "6011111111111117", "4012888888881881"]) {
      expect(luhn(card), card).toBe(true);
    }
  });

  it("rejects a single changed digit and a transposition", () => {
    expect(luhn("4111111111111112")).toBe(false);
    expect(luhn("4111111111111121")).toBe(false); // 1 and 2 swapped at the end: 4111...1121
    expect(luhn("1234567812345678")).toBe(false);
  });

  it("skips separators inside the range", () => {
    expect(luhn("4111 1111 1111 1111")).toBe(true);
    expect(luhn("4111-1111-1111-1112")).toBe(false);
  });

  it("checks only the given range", () => {
    const text = "xx4111111111111111yy";
    expect(luhnValid(text, 2, 18)).toBe(true);
    expect(luhnValid(text, 3, 18)).toBe(false);
  });

  it("computes the completing check digit", () => {
    expect(luhnCheckDigit("411111111111111")).toBe(1);
    expect(luhnCheckDigit("37828224631000")).toBe(5);
  });
});

describe("ibanValid (mod 97)", () => {
  it("accepts real-format IBANs, compact and spaced", () => {
    for (const v of ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606", "NL91ABNA0417164300", "DE89 3704 0044 0532 0130 00"]) {
      expect(iban(v), v).toBe(true);
    }
  });

  it("rejects a changed digit or check digits", () => {
    expect(iban("DE88370400440532013000")).toBe(false);
    expect(iban("DE89370400440532013001")).toBe(false);
    expect(iban("GB82WEST12345698765433")).toBe(false);
  });

  it("rejects lower case and punctuation instead of guessing", () => {
    expect(iban("de89370400440532013000")).toBe(false);
    expect(iban("DE89-3704-0044-0532-0130-00")).toBe(false);
  });

  it("builds check digits that validate", () => {
    const check = ibanCheckDigits("DE", "370400440532013000");
    expect(check).toBe("89");
    expect(iban(`DE${ibanCheckDigits("AT", "1904300234573201")}1904300234573201`)).toBe(false); // wrong country
    expect(iban(`AT${ibanCheckDigits("AT", "1904300234573201")}1904300234573201`)).toBe(true);
  });
});

describe("ssnValid", () => {
  it("accepts ordinary numbers", () => {
    expect(ssnValid(123, 45, 6789)).toBe(true);
    expect(ssnValid(899, 1, 1)).toBe(true);
  });

  it("rejects never-issued areas, group 00 and serial 0000", () => {
    expect(ssnValid(0, 45, 6789)).toBe(false);
    expect(ssnValid(666, 45, 6789)).toBe(false);
    expect(ssnValid(900, 45, 6789)).toBe(false);
    expect(ssnValid(999, 45, 6789)).toBe(false);
    expect(ssnValid(123, 0, 6789)).toBe(false);
    expect(ssnValid(123, 45, 0)).toBe(false);
  });
});
