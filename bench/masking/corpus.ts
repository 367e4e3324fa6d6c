/**
 * Deterministic synthetic workloads for the masking benchmark: log lines, CSV rows with PII,
 * prose, number tables and the odd secret, in roughly the mix a gateway sees. A fixed-seed PRNG
 * makes every run measure exactly the same text.
 */
import { ibanCheckDigits, luhnCheckDigit } from "@/lib/gateway/masking/checksums";

export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "the of and to in is was that for on with as by at from this be are have it not which or " +
  "request session database connection policy approval gateway masking customer order invoice " +
  "shipment warehouse payment refund account report quarterly revenue forecast latency timeout " +
  "retry upstream downstream cluster replica primary index vacuum checkpoint transaction commit"
).split(" ");
const NAMES = "alice bob carol dave erin frank grace heidi ivan judy mallory oscar peggy trent victor walter".split(" ");
const DOMAINS = ["example.com", "corp.example.org", "mail.test.io", "example.co.uk"];
const LEVELS = ["INFO", "WARN", "DEBUG", "ERROR"];

export class Gen {
  readonly r: () => number;
  constructor(seed: number) {
    this.r = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  digits(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += String(this.int(10));
    return s;
  }
  words(n: number): string {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.pick(WORDS));
    return out.join(" ");
  }
  email(): string {
    return `${this.pick(NAMES)}.${this.pick(NAMES)}${this.int(100)}@${this.pick(DOMAINS)}`;
  }
  card(): string {
    const prefix = this.pick(["4", "51", "6011"]);
    const partial = prefix + this.digits(15 - prefix.length);
    const full = partial + luhnCheckDigit(partial);
    return this.int(2) === 0 ? full.replace(/(\d{4})(?=\d)/g, "$1 ") : full;
  }
  ssn(): string {
    return `${100 + this.int(500)}-${10 + this.int(89)}-${1000 + this.int(8999)}`;
  }
  ipv4(): string {
    return `10.${this.int(256)}.${this.int(256)}.${1 + this.int(254)}`;
  }
  phone(): string {
    return this.int(2) === 0 ? `+1 (${200 + this.int(700)}) ${this.digits(3)}-${this.digits(4)}` : `+44 20 ${this.digits(4)} ${this.digits(4)}`;
  }
  iban(): string {
    const bban = this.digits(18);
    return `DE${ibanCheckDigits("DE", bban)}${bban}`;
  }
  timestamp(): string {
    return `2024-0${1 + this.int(9)}-${10 + this.int(18)}T${10 + this.int(13)}:${10 + this.int(49)}:${10 + this.int(49)}.${this.digits(3)}Z`;
  }
}

/** One line of mixed gateway-like text. */
export function mixedLine(g: Gen): string {
  const k = g.int(100);
  if (k < 35) {
    return `${g.timestamp()} ${g.pick(LEVELS)} [api] GET /v1/orders/${g.digits(5)} ${g.pick(["200", "404", "500"])} ${g.int(900)}ms user=${g.pick(NAMES)} trace=${g.digits(8)} ${g.words(4)}`;
  }
  if (k < 55) {
    return `${g.digits(5)},${g.pick(NAMES)},${g.pick(NAMES)},${g.email()},${g.card()},${g.ssn()},${g.ipv4()},${g.phone()},${g.digits(3)}.${g.digits(2)}`;
  }
  if (k < 85) return `${g.words(10 + g.int(12))}.`;
  if (k < 97) return `${g.digits(4)} ${g.digits(2)}.${g.digits(2)} ${g.digits(6)} ${g.digits(1)} ${g.timestamp()} ${g.digits(3)}`;
  if (k < 98) return `connect from ${g.ipv4()} as ${g.email()} iban ${g.iban()}`;
  if (k < 99) return `Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIke${g.digits(6)}In0.${g.digits(20)}`;
  return `aws_access_key_id = AKIA${g.digits(16)} # ${g.words(3)}`;
}

/** Prose with no digits, '@', ':' or secret prefixes: the no-candidate fast path. */
export function cleanLine(g: Gen): string {
  return `${g.words(12 + g.int(10))}.`;
}

export function buildLines(targetBytes: number, seed: number, line: (g: Gen) => string): string[] {
  const g = new Gen(seed);
  const lines: string[] = [];
  let size = 0;
  while (size < targetBytes) {
    const l = line(g);
    lines.push(l);
    size += l.length + 1;
  }
  return lines;
}

/** Join lines into blocks of about `blockBytes` (how a terminal or HTTP body arrives). */
export function toBlocks(lines: string[], blockBytes: number): string[] {
  const blocks: string[] = [];
  let cur: string[] = [];
  let size = 0;
  for (const l of lines) {
    cur.push(l);
    size += l.length + 1;
    if (size >= blockBytes) {
      blocks.push(cur.join("\n") + "\n");
      cur = [];
      size = 0;
    }
  }
  if (cur.length) blocks.push(cur.join("\n") + "\n");
  return blocks;
}
