import { describe, expect, it } from "vitest";
import { DETECTOR_NAMES } from "../catalog";
import { detect } from "../detect";
import { Prefilter } from "./prefilter";

const ALL = (1 << DETECTOR_NAMES.length) - 1;

describe("scanner", () => {
  it("reports matches of different detectors in order, without overlaps", () => {
    const text = "alice@example.com paid 4111 1111 1111 1111 from 10.0.0.1 (ssn 123-45-6789)";
    expect(detect(text).map((d) => d.detector)).toEqual(["email", "card", "ipv4", "ssn"]);
    for (const d of detect(text)) expect(text.slice(d.start, d.end)).toBe(d.value);
  });

  it("never matches inside or across an ANSI CSI sequence", () => {
    const text = "\x1b[38;5;196m4111111111111111\x1b[0m \x1b[1malice@example.com\x1b[22m";
    const found = detect(text).map((d) => d.value);
    expect(found).toEqual(["4111111111111111", "alice@example.com"]);
    // "\x1b[1m" ends in 'm', a valid local-part character: the address must not swallow it.
  });

  it("finds a value interrupted by an escape sequence whole (escapes.ts)", () => {
    expect(detect("4111 1111 \x1b[1m1111 1111").map((d) => d.detector)).toEqual(["card"]);
  });

  it("uses only the enabled detectors", () => {
    const text = "alice@example.com 4111111111111111 10.0.0.1";
    expect(detect(text, ["ipv4"]).map((d) => d.detector)).toEqual(["ipv4"]);
    expect(detect(text, [])).toEqual([]);
  });

  it("copes with non-ASCII text around matches and with text ending mid-token", () => {
    expect(detect("Grüße an jürgen@example.de – 😀 4111111111111111").map((d) => d.value)).toEqual(["jürgen@example.de", "4111111111111111"]);
    expect(detect("–alice@example.org 😀bob@müller.de").map((d) => d.value)).toEqual(["alice@example.org", "bob@müller.de"]);
    expect(detect("4111 1111 1111 111")).toEqual([]);
    expect(detect("bob@example.c")).toEqual([]);
    expect(detect("+")).toEqual([]);
  });

  it("scans long texts past the reusable buffer size", () => {
    const filler = "lorem ipsum dolor ".repeat(200_000);
    const found = detect(`${filler}alice@example.com ${filler}4111111111111111`);
    expect(found.map((d) => d.value)).toEqual(["alice@example.com", "4111111111111111"]);
  });
});

describe("prefilter", () => {
  const all = new Prefilter(ALL);
  const long = (s: string) => "plain words without any evidence at all ".repeat(4) + s;

  it("lets short texts through to the scanner", () => {
    expect(all.mayMatch("hello")).toBe(true);
  });

  it("rejects long texts with no evidence for any detector", () => {
    expect(all.mayMatch(long("nothing here"))).toBe(false);
  });

  it("admits each kind of evidence", () => {
    for (const s of ["4", "@", "a:b", "eyJ", "AKIA", "ASIA", "AIza", "ghp_", "github_pat_", "xoxb-", "sk_live_", "-----BEGIN "]) {
      expect(all.mayMatch(long(s)), s).toBe(true);
    }
  });

  it("looks only for the evidence of enabled detectors", () => {
    const emailOnly = new Prefilter(1 << DETECTOR_NAMES.indexOf("email"));
    expect(emailOnly.mayMatch(long("4111111111111111"))).toBe(false);
    expect(emailOnly.mayMatch(long("a@b.co"))).toBe(true);
  });
});
