import { describe, expect, it } from "vitest";
import { ibanCheckDigits } from "../checksums";
import { detect } from "../detect";
import type { DetectorName } from "../catalog";

const found = (text: string, detectors: DetectorName[]) => detect(text, detectors).map((d) => d.value);

describe("email detector", () => {
  const email = ["email"] as DetectorName[];

  it("finds addresses with subdomains, plus tags and dots", () => {
    expect(found("to alice@example.com, bob.smith+news@mail.corp.example.co.uk.", email)).toEqual(["alice@example.com", "bob.smith+news@mail.corp.example.co.uk"]);
    expect(found("<carol_1%x@sub-domain.example.org>", email)).toEqual(["carol_1%x@sub-domain.example.org"]);
  });

  it("finds addresses whose local part is digits only", () => {
    expect(found("4111111111111111@example.com", email)).toEqual(["4111111111111111@example.com"]);
  });

  it("rejects handles, versions, hosts without a TLD and broken domains", () => {
    for (const v of ["@alice", "pkg@1.2.3", "user@localhost", "a@b.c", "a@-example.com", "a@example..com", "a@.example.com", "x @ y.com"]) {
      expect(found(`x ${v} y`, email), v).toEqual([]);
    }
  });

  it("does not start the local part with a dot", () => {
    expect(found("see...alice@example.com", email)).toEqual(["alice@example.com"]);
  });
});

describe("ipv6 detector", () => {
  const ip = ["ipv6"] as DetectorName[];

  it("finds full, compressed and IPv4-mapped addresses", () => {
    for (const v of ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8::1", "fe80::1ff:fe23:4567:890a", "::ffff:192.0.2.128", "FE80::0202:B3FF:FE1E:8329", "2001:db8::"]) {
      expect(found(`addr ${v} ok`, ip), v).toEqual([v]);
    }
    expect(found("[2001:db8::1]:8080", ip)).toEqual(["2001:db8::1"]);
  });

  it("rejects times, MAC addresses, C++ scopes, loopback shorthand and too many groups", () => {
    for (const v of ["12:34:56", "00:1a:2b:3c:4d:5e", "std::vector", "::1", "1:2:3:4:5:6:7:8:9", "2001:db8::1::2", "a:b", "deadbeef::1"]) {
      expect(found(`x ${v} y`, ip), v).toEqual([]);
    }
  });
});

describe("iban detector", () => {
  const iban = ["iban"] as DetectorName[];

  it("finds compact and spaced IBANs", () => {
    expect(found("pay DE89370400440532013000 now", iban)).toEqual(["DE89370400440532013000"]);
    expect(found("IBAN: GB82 WEST 1234 5698 7654 32.", iban)).toEqual(["GB82 WEST 1234 5698 7654 32"]);
  });

  it("picks the right end when upper-case text follows", () => {
    expect(found("DE89 3704 0044 0532 0130 00 EUR", iban)).toEqual(["DE89 3704 0044 0532 0130 00"]);
  });

  it("accepts countries without a known length by checksum alone", () => {
    const bban = "0001234567890123";
    const v = `XK${ibanCheckDigits("XK", bban)}${bban}`;
    expect(found(`x ${v} y`, iban)).toEqual([v]);
  });

  it("does not mask a mod-97 failure or a wrong country length", () => {
    expect(found("pay DE88370400440532013000 now", iban)).toEqual([]);
    expect(found("pay DE89 3704 0044 0532 0130 01 now", iban)).toEqual([]);
    expect(found("pay DE8937040044053201300 now", iban)).toEqual([]);
    expect(found("pay de89370400440532013000 now", iban)).toEqual([]);
    expect(found("XDE89370400440532013000", iban)).toEqual([]);
    // mod-97 valid, but a German IBAN has 22 characters, not 24
    const long = `DE${ibanCheckDigits("DE", "37040044053201300012")}37040044053201300012`;
    expect(found(`pay ${long} now`, iban)).toEqual([]);
  });
});
