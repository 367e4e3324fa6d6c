/**
 * compileMasker: turns stored rules into a Masker for one session and channel.
 *
 * Everything that can be decided before data flows is decided here: rule order, which rule owns
 * each detector, the scanner's trigger table, compiled patterns and, per result column, a plan.
 * The per-value path then only scans and rewrites, reusing buffers (no allocation when nothing
 * matches: the input string itself is returned).
 *
 * Precedence: rules apply in the given order. A columns-only rule replaces the whole value and
 * beats everything else for its columns. Otherwise, for each detector the first rule that
 * claims it wins, with column-scoped rules (columns + detectors) ahead of detector-only rules,
 * because the narrower rule states the admin's intent for that column.
 */
import { GatehouseError } from "@/lib/gateway/core/types";
import { DETECTOR_NAMES } from "./catalog";
import { columnKey, columnMatches, parseColumnPattern, type ColumnGlob } from "./columns";
import { checkCustomRegex, compileDictionary, mergeRanges, scanCustom, type CustomMatcher } from "./custom";
import { BUILTIN_KIND_COUNT, K_PRIVATE_KEY, bit } from "./detectors/chars";
import { brokenSequenceBefore } from "./detectors/escapes";
import { Prefilter } from "./detectors/prefilter";
import { RangeList, buildTriggerTable, scanBuiltins } from "./detectors/scanner";
import { DEFAULT_KEEP_LAST, Hasher, REDACTED, maskPartial, redactMarker } from "./styles";
import type { ColumnMaskPlan, ColumnRef, MaskCount, Masker, MaskerOptions, MaskingRule, MaskStyle } from "./types";
import { markSoftBreaks, restoreBreaks } from "./wrap";

interface CompiledRule {
  index: number;
  id: string;
  style: MaskStyle;
  keepLast: number;
  globs: ColumnGlob[];
  detectorMask: number;
  patterns: { re: RegExp; label: string }[];
  hasMatchers: boolean;
}

/** The detectors and patterns that run over one kind of value, and which rule owns each. */
interface MatcherSet {
  mask: number;
  table: Uint8Array;
  prefilter: Prefilter;
  /** kind -> owning rule index; kinds >= BUILTIN_KIND_COUNT are `customs` in order */
  ruleOfKind: Int32Array;
  customs: CustomMatcher[];
  markers: string[];
  empty: boolean;
}

class Plan implements ColumnMaskPlan {
  readonly replacement: string | null | undefined;
  constructor(
    readonly column: string,
    readonly whole: CompiledRule | null,
    readonly set: MatcherSet,
    /** [values, matches] per rule index, shared by every plan of this column key */
    readonly counters: Float64Array,
    readonly columnRules: readonly string[],
  ) {
    this.replacement = whole?.style === "redact" ? REDACTED : whole?.style === "null" ? null : undefined;
  }
  get masksWholeValue(): boolean {
    return this.whole !== null;
  }
  get hidesWholeValue(): boolean {
    return this.whole !== null && this.whole.style !== "partial";
  }
}

export interface MaskerInternals {
  /** maskText can change something (an active masker with detectors or patterns for text) */
  masksText: boolean;
  textHasCustomPatterns: boolean;
  textDetectsPrivateKeys: boolean;
  /** what the masker was compiled from: another thread compiles the same masker from it */
  recipe: { rules: readonly MaskingRule[]; opts: MaskerOptions };
  /** the rules it applies: the enabled ones for its channel, in order */
  applied: readonly MaskingRule[];
  /** adds counts made by such a copy (its `counts()`) to this masker's */
  addCounts(counts: readonly MaskCount[]): void;
  /**
   * maskText for a text whose soft line breaks the caller marked (the stream masker: it knows
   * the terminal's width and where its text starts in a row); no marking of its own.
   */
  maskMarkedText(text: string): string;
}
// Process-wide, like the masking runtime that builds maskers: server.ts and the Next bundle load
// this module separately, and a masker compiled by one is streamed by the other (MCP
// run_ssh_command runs TerminalChannel inside the bundle with the runtime's masker).
const g = globalThis as { __gatehouseMaskerInternals?: WeakMap<Masker, MaskerInternals> };
const internals: WeakMap<Masker, MaskerInternals> = (g.__gatehouseMaskerInternals ??= new WeakMap());

/** Facts the stream masker needs about a masker; not part of the public API. */
export function maskerInternals(masker: Masker): MaskerInternals {
  const found = internals.get(masker);
  if (!found) throw new Error("not a masker built by compileMasker");
  return found;
}

export function compileMasker(rules: readonly MaskingRule[], opts: MaskerOptions): Masker {
  const applied = rules.filter((r) => r.enabled && (!opts.channel || !r.appliesTo || r.appliesTo.includes(opts.channel)));
  const compiled = applied.map(compileRule);
  const masker = new CompiledMasker(compiled, new Hasher(opts.hashKey));
  internals.set(masker, {
    masksText: !masker.textSet.empty,
    textHasCustomPatterns: masker.textSet.customs.length > 0,
    textDetectsPrivateKeys: (masker.textSet.mask & bit(K_PRIVATE_KEY)) !== 0,
    recipe: { rules, opts },
    applied,
    addCounts: (counts) => masker.addCounts(counts),
    maskMarkedText: (text) => masker.maskMarkedText(text),
  });
  return masker;
}

function compileRule(rule: MaskingRule, index: number): CompiledRule {
  const invalid = (message: string) => new GatehouseError("INVALID", `masking rule ${rule.id}: ${message}`);
  const globs = rule.columns.map((pattern) => {
    const glob = parseColumnPattern(pattern);
    if (typeof glob === "string") throw invalid(glob);
    return glob;
  });
  const patterns = (rule.regexes ?? []).map((source) => {
    const error = checkCustomRegex(source);
    if (error) throw invalid(`regex ${error}`);
    return { re: new RegExp(source, "g"), label: "custom" };
  });
  const dictionary = compileDictionary(rule.dictionary ?? []);
  if (dictionary) patterns.push({ re: dictionary, label: "dictionary" });
  let detectorMask = 0;
  for (const name of rule.detectors) {
    const kind = DETECTOR_NAMES.indexOf(name);
    if (kind < 0) throw invalid(`unknown detector ${String(name)}`);
    detectorMask |= bit(kind);
  }
  const hasMatchers = detectorMask !== 0 || patterns.length > 0;
  const keepLast = rule.keepLast ?? DEFAULT_KEEP_LAST;
  return { index, id: rule.id, style: rule.style, keepLast, globs, detectorMask, patterns, hasMatchers };
}

function buildMatcherSet(owners: CompiledRule[]): MatcherSet {
  const ruleOfKind: number[] = new Array<number>(BUILTIN_KIND_COUNT).fill(-1);
  const markers = DETECTOR_NAMES.map((name) => redactMarker(name));
  const customs: CustomMatcher[] = [];
  let mask = 0;
  for (const rule of owners) {
    for (let kind = 0; kind < BUILTIN_KIND_COUNT; kind++) {
      if (rule.detectorMask & bit(kind) && ruleOfKind[kind] < 0) ruleOfKind[kind] = rule.index;
    }
    mask |= rule.detectorMask;
    for (const { re, label } of rule.patterns) {
      customs.push({ re, kind: ruleOfKind.length });
      ruleOfKind.push(rule.index);
      markers.push(redactMarker(label));
    }
  }
  return { mask, table: buildTriggerTable(mask), prefilter: new Prefilter(mask), ruleOfKind: Int32Array.from(ruleOfKind), customs, markers, empty: mask === 0 && customs.length === 0 };
}

class CompiledMasker implements Masker {
  readonly active: boolean;
  readonly textSet: MatcherSet;
  private readonly textRules: CompiledRule[];
  private readonly setCache = new Map<string, MatcherSet>();
  private readonly counters = new Map<string, Float64Array>();
  private readonly textCounters: Float64Array;
  // Scratch reused by every call; safe because masking is synchronous and never re-entered.
  private readonly builtinRanges = new RangeList();
  private readonly customRanges = new RangeList();
  private readonly mergedRanges = new RangeList();
  private readonly touched: Int32Array;
  private epoch = 0;

  constructor(
    private readonly rules: CompiledRule[],
    private readonly hasher: Hasher,
  ) {
    this.active = rules.length > 0;
    this.touched = new Int32Array(rules.length);
    this.textRules = rules.filter((r) => r.hasMatchers && r.globs.length === 0);
    this.textSet = this.matcherSet(this.textRules);
    this.textCounters = this.countersFor("*");
  }

  columnPlan(col: ColumnRef): ColumnMaskPlan | null {
    const matching = this.rules.filter((r) => r.globs.some((g) => columnMatches(g, col)));
    const whole = matching.find((r) => !r.hasMatchers) ?? null;
    const set = this.matcherSet([...matching.filter((r) => r.hasMatchers), ...this.textRules]);
    if (!whole && set.empty) return null;
    const key = columnKey(col);
    return new Plan(key, whole, set, this.countersFor(key), matching.map((r) => r.id));
  }

  maskValue(value: string, plan?: ColumnMaskPlan | null): string | null {
    if (plan === null) return value;
    if (plan === undefined) return this.maskWith(value, this.textSet, this.textCounters);
    if (!(plan instanceof Plan)) throw new Error("columnPlan() of another masker");
    const whole = plan.whole;
    if (whole === null) return this.maskWith(value, plan.set, plan.counters);
    plan.counters[whole.index * 2]++;
    plan.counters[whole.index * 2 + 1]++;
    switch (whole.style) {
      case "null":
        return null;
      case "redact":
        return REDACTED;
      case "partial":
        return maskPartial(value, whole.keepLast);
      case "hash":
        return this.hasher.hash(value);
    }
  }

  maskText(text: string): string {
    return this.maskWith(text, this.textSet, this.textCounters);
  }

  maskMarkedText(text: string): string {
    return this.textSet.empty || text.length === 0 ? text : this.maskMarked(text, this.textSet, this.textCounters);
  }

  counts(): MaskCount[] {
    const result: MaskCount[] = [];
    for (const [column, c] of this.counters) {
      for (const rule of this.rules) {
        const values = c[rule.index * 2];
        if (values > 0) result.push({ ruleId: rule.id, column, values, matches: c[rule.index * 2 + 1] });
      }
    }
    return result;
  }

  addCounts(counts: readonly MaskCount[]): void {
    for (const c of counts) {
      const rule = this.rules.find((r) => r.id === c.ruleId);
      if (!rule) continue;
      const counters = this.countersFor(c.column);
      counters[rule.index * 2] += c.values;
      counters[rule.index * 2 + 1] += c.matches;
    }
  }

  resetCounts(): void {
    for (const c of this.counters.values()) c.fill(0);
  }

  private maskWith(text: string, set: MatcherSet, counters: Float64Array): string {
    if (set.empty || text.length === 0) return text;
    // A line break between the digits of a value does not split it (`fold -w 7`, one group per
    // line): read as absent, put back where no match covers it (wrap.ts).
    const marked = text.length > 2 && text.includes("\n") ? markSoftBreaks(text, 0, 0, true) : null;
    return marked ? restoreBreaks(this.maskMarked(marked.text, set, counters)) : this.maskMarked(text, set, counters);
  }

  private maskMarked(text: string, set: MatcherSet, counters: Float64Array): string {
    const ranges = this.scan(text, set);
    if (ranges.length === 0) return text;
    const epoch = ++this.epoch;
    let out = "";
    let last = 0;
    for (let r = 0; r < ranges.length; r++) {
      const start = ranges.starts[r];
      const end = ranges.ends[r];
      const kind = ranges.kinds[r];
      const ruleIndex = set.ruleOfKind[kind];
      const rule = this.rules[ruleIndex];
      // a sequence the value broke goes with it, or it would end in the replacement (escapes.ts)
      const broken = brokenSequenceBefore(text, start, last);
      out += text.slice(last, broken >= 0 ? broken : start) + this.rewrite(rule, set.markers[kind], text.slice(start, end));
      last = end;
      counters[ruleIndex * 2 + 1]++;
      if (this.touched[ruleIndex] !== epoch) {
        this.touched[ruleIndex] = epoch;
        counters[ruleIndex * 2]++;
      }
    }
    return last < text.length ? out + text.slice(last) : out;
  }

  private rewrite(rule: CompiledRule, marker: string, matched: string): string {
    switch (rule.style) {
      case "partial":
        return maskPartial(matched, rule.keepLast);
      case "hash":
        return this.hasher.hash(matched);
      default:
        return marker; // redact, and null (there is no NULL inside a string)
    }
  }

  private scan(text: string, set: MatcherSet): RangeList {
    const builtins = this.builtinRanges;
    builtins.clear();
    if (set.mask !== 0 && set.prefilter.mayMatch(text)) scanBuiltins(text, set.mask, set.table, builtins);
    if (set.customs.length === 0) return builtins;
    const customs = this.customRanges;
    customs.clear();
    scanCustom(text, set.customs, customs);
    if (customs.length === 0) return builtins;
    if (builtins.length === 0) return customs;
    mergeRanges(builtins, customs, this.mergedRanges);
    return this.mergedRanges;
  }

  private matcherSet(owners: CompiledRule[]): MatcherSet {
    const key = owners.map((r) => r.index).join(",");
    let set = this.setCache.get(key);
    if (!set) {
      set = buildMatcherSet(owners);
      this.setCache.set(key, set);
    }
    return set;
  }

  private countersFor(key: string): Float64Array {
    let c = this.counters.get(key);
    if (!c) {
      c = new Float64Array(this.rules.length * 2);
      this.counters.set(key, c);
    }
    return c;
  }
}
