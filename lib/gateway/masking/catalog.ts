/**
 * The built-in detectors: stable names (stored in masking rules, used by the CLI's
 * `--detectors email,card,...`) and the descriptions the console shows.
 *
 * This file deliberately imports nothing, so client components can render the detector picker
 * without pulling `node:crypto` into the browser bundle.
 *
 * The array order is load-bearing: a detector's index is its "kind" (a bit in a detector mask
 * and an index into per-kind tables in the scanner). Append new detectors at the end.
 */
export const DETECTOR_NAMES = [
  "email",
  "phone",
  "ssn",
  "card",
  "iban",
  "ipv4",
  "ipv6",
  "jwt",
  "aws-key",
  "github-token",
  "slack-token",
  "stripe-key",
  "google-api-key",
  "private-key",
] as const;

export type DetectorName = (typeof DETECTOR_NAMES)[number];

export interface DetectorInfo {
  name: DetectorName;
  label: string;
  description: string;
  category: "pii" | "financial" | "network" | "secret";
}

export const DETECTORS: readonly DetectorInfo[] = [
  { name: "email", label: "Email address", category: "pii", description: "local@domain.tld with a letters-only TLD of two or more characters." },
  {
    name: "phone",
    label: "Phone number",
    category: "pii",
    description:
      "International +CC numbers (8–15 digits), US (555) 123-4567 / 555-123-4567 / 555.123.4567, and European national numbers starting with 0 written in groups (020 7946 0958). Plain digit runs, dates and IPs are not phones.",
  },
  { name: "ssn", label: "US Social Security number", category: "pii", description: "###-##-#### excluding area 000, 666 and 9xx, group 00 and serial 0000." },
  {
    name: "card",
    label: "Payment card number",
    category: "financial",
    description: "13–19 digits starting with 2–6, optionally grouped by spaces or dashes, that pass the Luhn check. Luhn failures are never masked.",
  },
  {
    name: "iban",
    label: "IBAN",
    category: "financial",
    description: "Upper-case country code, check digits and account number, with or without spaces, that pass the ISO 13616 mod-97 check.",
  },
  { name: "ipv4", label: "IPv4 address", category: "network", description: "Dotted quad with octets 0–255 (no leading zeros), not part of a longer dotted number." },
  { name: "ipv6", label: "IPv6 address", category: "network", description: "Eight hex groups, or a '::'-compressed form with at least two groups, optionally ending in a dotted IPv4." },
  { name: "jwt", label: "JSON Web Token", category: "secret", description: "eyJ… base64url segments joined by dots whose header decodes to a JSON object (JWS and JWE)." },
  { name: "aws-key", label: "AWS access key id", category: "secret", description: "AKIA… or ASIA… followed by 16 upper-case letters or digits." },
  { name: "github-token", label: "GitHub token", category: "secret", description: "ghp_, gho_, ghu_, ghs_, ghr_ tokens and fine-grained github_pat_ tokens." },
  { name: "slack-token", label: "Slack token", category: "secret", description: "xoxb-, xoxa-, xoxp-, xoxr-, xoxs- tokens." },
  { name: "stripe-key", label: "Stripe secret key", category: "secret", description: "Live secret (sk_live_) and restricted (rk_live_) keys." },
  { name: "google-api-key", label: "Google API key", category: "secret", description: "AIza followed by 35 base64url characters." },
  {
    name: "private-key",
    label: "Private key block",
    category: "secret",
    description: "A whole -----BEGIN … PRIVATE KEY----- block through its END line (also with literal \\n escapes, as in JSON). An unterminated block is masked through its last base64 line.",
  },
];

/** Index of a detector in DETECTOR_NAMES (its scanner kind), or -1 for an unknown name. */
export function detectorKind(name: string): number {
  return (DETECTOR_NAMES as readonly string[]).indexOf(name);
}
