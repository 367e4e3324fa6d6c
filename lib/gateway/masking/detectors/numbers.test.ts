import { describe, expect, it } from "vitest";
import { luhnCheckDigit } from "../checksums";
import { detect } from "../detect";
import type { DetectorName } from "../catalog";

const found = (text: string, detectors: DetectorName[]) => detect(text, detectors).map((d) => `${d.detector}:${d.value}`);

describe("card detector", () => {
  const card = ["card"] as DetectorName[];

  it("finds Luhn-valid numbers, compact or grouped by spaces or dashes", () => {
    expect(found("pay 4111111111111111 now", card)).toEqual(["card:4111111111111111"]);
    expect(found("pay 4111 1111 1111 1111 now", card)).toEqual(["card:4111 1111 1111 1111"]);
    expect(found("pay 4111-1111-1111-1111.", card)).toEqual(["card:4111-1111-1111-1111"]);
    expect(found("amex 3782 822463 10005", card)).toEqual(["card:3782 822463 10005"]);
    expect(found('{"pan":"5500005555555559"}', card)).toEqual(["card:5500005555555559"]);
  });

  it("finds 13- and 19-digit numbers", () => {
    const p13 = "422222222222";
    const p19 = "601100000000000012";
    expect(found(`a ${p13}${luhnCheckDigit(p13)} b`, card)).toHaveLength(1);
    expect(found(`a ${p19}${luhnCheckDigit(p19)} b`, card)).toHaveLength(1);
  });

  it("does not mask a Luhn failure", () => {
    expect(found("pay 4111111111111112 now", card)).toEqual([]);
    expect(found("pay 4111 1111 1111 1112 now", card)).toEqual([]);
  });

  it("ignores ids that are not card-shaped", () => {
    expect(found("order 1700000000123 at 1700000000000", card)).toEqual([]); // epoch ms, start with 1
    expect(found("id 7111111111111111", card)).toEqual([]); // Luhn-valid, but 7 is no card network
    expect(found("x 41111111111111111111 y", card)).toEqual([]); // 20 digits
    expect(found("sku4111111111111111", card)).toEqual([]); // inside a word
    expect(found("4111 1111-1111 1111", card)).toEqual([]); // mixed separators
  });

  it("stops at a following number separated by a space", () => {
    expect(found("card 4111 1111 1111 1111 2024", card)).toEqual(["card:4111 1111 1111 1111"]);
  });

  it("leaves a number followed by '@' to the email detector", () => {
    expect(found("4111111111111111@example.com", card)).toEqual([]);
  });
});

describe("ssn detector", () => {
  const ssn = ["ssn"] as DetectorName[];

  it("finds ###-##-####", () => {
    expect(found("ssn: 123-45-6789,", ssn)).toEqual(["ssn:123-45-6789"]);
    expect(found("(078-05-1120)", ssn)).toEqual(["ssn:078-05-1120"]);
  });

  it("rejects never-issued numbers and other shapes", () => {
    for (const v of ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "123456789", "123 45 6789", "123-45-67890", "1123-45-6789"]) {
      expect(found(`x ${v} y`, ssn), v).toEqual([]);
    }
  });
});

describe("ipv4 detector", () => {
  const ip = ["ipv4"] as DetectorName[];

  it("finds dotted quads with ports, CIDR and punctuation around them", () => {
    expect(found("from 10.0.0.1:5432, to 192.168.1.255/24.", ip)).toEqual(["ipv4:10.0.0.1", "ipv4:192.168.1.255"]);
    expect(found("0.0.0.0", ip)).toEqual(["ipv4:0.0.0.0"]);
  });

  it("rejects out-of-range octets, leading zeros and longer dotted numbers", () => {
    for (const v of ["256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "v1.2.3.4", "1.10.0.0.1", "10.0.0.1.example"]) {
      expect(found(`x ${v} y`, ip), v).toEqual([]);
    }
  });
});

describe("phone detector", () => {
  const phone = ["phone"] as DetectorName[];

  it("finds international numbers", () => {
    for (const v of ["+1 (555) 123-4567", "+44 20 7946 0958", "+49 30 901820", "+33 1 23 45 67 89", "+4915112345678", "+44 (0)20 7946 0958"]) {
      expect(found(`call ${v} today`, phone), v).toEqual([`phone:${v}`]);
    }
  });

  it("finds US formats", () => {
    for (const v of ["(555) 123-4567", "555-123-4567", "555.123.4567", "555 123 4567", "1-555-123-4567"]) {
      expect(found(`call ${v}.`, phone), v).toEqual([`phone:${v}`]);
    }
  });

  it("finds European national numbers written in groups", () => {
    for (const v of ["020 7946 0958", "030 901820", "01 23 45 67 89", "06-12345678"]) {
      expect(found(`tel ${v} ok`, phone), v).toEqual([`phone:${v}`]);
    }
  });

  it("a '+' that starts no phone does not hide what follows it (found by the idempotence property)", () => {
    // The '+' trigger tries the phone format alone; it used to take a later phone-shaped group of
    // the chain and resume after it, skipping the card between.
    expect(found("+0 400000000000006 001-01-0001", ["card", "ssn", "phone"])).toEqual(["card:400000000000006", "ssn:001-01-0001"]);
    // an international number ends where a card begins (15 digits would fit it otherwise)
    expect(found("+1 555-123-4567 4111 1111 1111 1111", ["card", "phone"])).toEqual(["phone:+1 555-123-4567", "card:4111 1111 1111 1111"]);
    expect(found("+0 4111 1111 1111 1111", ["card", "phone"])).toEqual(["card:4111 1111 1111 1111"]);
    expect(found("call +44 20 7946 0958 now", ["card", "phone"])).toEqual(["phone:+44 20 7946 0958"]);
  });

  it("does not treat ids, dates, times, amounts or IPs as phones", () => {
    for (const v of ["5551234567", "12345678901", "2024-03-05", "01.02.2024", "12:34:56", "1,234,567.89", "10.0.0.1", "+1 23", "155-123-4567", "555-123-4567-89", "v555-123-4567"]) {
      expect(found(`x ${v} y`, phone), v).toEqual([]);
    }
  });

  it("finds the phone after a leading number and before a trailing one", () => {
    expect(found("order 12 555-123-4567 2 times", phone)).toEqual(["phone:555-123-4567"]);
  });
});
