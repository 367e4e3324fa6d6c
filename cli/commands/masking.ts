import { parseList, positionals, str, UsageError, type Parsed } from "../args";
import type { Command, Group } from "../command";
import { formatTime } from "../output";

/** A stored rule: identity columns plus the definition the masking engine compiles. */
interface Rule {
  id: string;
  name: string;
  enabled: boolean;
  ruleSet: string;
  definition: {
    detectors?: string[];
    columns?: string[];
    style?: string;
    keepLast?: number;
    regexes?: string[];
    dictionary?: string[];
    appliesTo?: string[];
    blockInference?: boolean;
  };
  updatedAt: string;
}

interface Detector {
  name: string;
  label: string;
  description: string;
  category: string;
}

interface Tested {
  masked: string | null;
  counts: { ruleId: string; column: string; values: number; matches: number }[];
}

const STYLES = ["redact", "partial", "hash", "null"];
const CHANNELS = ["sql", "terminal", "http", "mcp"];

const path = (nameOrId: string) => `/masking/${encodeURIComponent(nameOrId)}`;

function checkedList(value: string, allowed: string[], option: string): string[] {
  const list = parseList(value);
  if (!list.length) throw new UsageError(`${option} needs at least one value`);
  const bad = list.find((v) => !allowed.includes(v));
  if (bad) throw new UsageError(`${option}: '${bad}' is not one of ${allowed.join(", ")}`);
  return list;
}

/** `--regex` may be repeated; parseArgs hands back an array for `multiple: true` options. */
function many(args: Parsed, name: string): string[] {
  const v = (args.values as Record<string, unknown>)[name];
  return Array.isArray(v) ? v.map(String) : typeof v === "string" ? [v] : [];
}

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list masking rules",
  usage: "list",
  async run(ctx, args) {
    positionals(args);
    const res = await ctx.api().get<{ rules: Rule[] }>("/masking");
    ctx.out.result(res, () =>
      ctx.out.table(
        res.rules,
        [
          { header: "NAME", value: (r) => r.name },
          { header: "SET", value: (r) => r.ruleSet },
          { header: "STYLE", value: (r) => `${r.definition.style ?? "-"}${r.definition.style === "partial" ? `(${r.definition.keepLast ?? 4})` : ""}` },
          { header: "COLUMNS", value: (r) => r.definition.columns },
          { header: "DETECTORS", value: (r) => r.definition.detectors },
          {
            header: "OTHER",
            value: (r) =>
              [r.definition.regexes?.length ? `${r.definition.regexes.length} regex` : "", r.definition.dictionary?.length ? `${r.definition.dictionary.length} words` : "", r.definition.blockInference ? "blocks inference" : ""].filter(Boolean).join(", "),
          },
          { header: "CHANNELS", value: (r) => r.definition.appliesTo ?? "all" },
          { header: "ENABLED", value: (r) => (r.enabled ? "yes" : "no") },
          { header: "UPDATED", value: (r) => formatTime(r.updatedAt) },
        ],
        "no masking rules",
      ),
    );
  },
};

const add: Command = {
  name: "add",
  summary: "create a masking rule",
  usage: "add --name N (--columns table.col,... | --detectors email,card,...) [--style redact|partial|hash|null] [--keep-last N] [--set RULESET] [--regex R ...] [--dictionary w1,w2] [--applies-to sql,terminal] [--block-inference]",
  help: `  --name N              unique rule name ('masking rm N' removes it)
  --columns a,b         column globs: users.ssn, *.email, billing.*; alone, the whole value is masked
  --detectors a,b       built-in detectors (see 'masking detectors'); with --columns, only inside them
  --style S             redact (default), partial, hash or null
  --keep-last N         partial: characters kept at the end (default 4)
  --set RULESET         the rule set a policy's @mask("...") names (default "default")
  --regex R             a custom pattern; repeat for several
  --dictionary a,b      words or phrases, matched case-insensitively as whole words
  --applies-to a,b      channels: ${CHANNELS.join(", ")} (default all)
  --block-inference     SQL: refuse statements that use the --columns anywhere but as plain output
                        (WHERE, ORDER BY, GROUP BY, joins, functions, subqueries), which would reveal
                        masked values without returning them`,
  options: {
    name: { type: "string" },
    columns: { type: "string" },
    detectors: { type: "string" },
    style: { type: "string" },
    "keep-last": { type: "string" },
    set: { type: "string" },
    regex: { type: "string", multiple: true },
    dictionary: { type: "string" },
    "applies-to": { type: "string" },
    "block-inference": { type: "boolean" },
  },
  async run(ctx, args) {
    positionals(args);
    const name = str(args.values, "name");
    if (!name) throw new UsageError("--name is required");
    const columns = str(args.values, "columns");
    const detectors = str(args.values, "detectors");
    const regexes = many(args, "regex");
    const dictionary = str(args.values, "dictionary");
    if (columns === undefined && detectors === undefined && !regexes.length && dictionary === undefined) {
      throw new UsageError("say what to mask: --columns, --detectors, --regex or --dictionary");
    }
    const style = str(args.values, "style") ?? "redact";
    if (!STYLES.includes(style)) throw new UsageError(`--style must be one of ${STYLES.join(", ")}`);
    const keepLastText = str(args.values, "keep-last");
    let keepLast: number | undefined;
    if (keepLastText !== undefined) {
      if (!/^\d+$/.test(keepLastText)) throw new UsageError(`--keep-last: '${keepLastText}' is not a whole number`);
      if (style !== "partial") throw new UsageError("--keep-last only applies to --style partial");
      keepLast = Number(keepLastText);
    }
    const set = str(args.values, "set");
    const appliesTo = str(args.values, "applies-to");
    const body = {
      name,
      style,
      ...(columns !== undefined ? { columns: parseList(columns) } : {}),
      ...(detectors !== undefined ? { detectors: parseList(detectors) } : {}),
      ...(keepLast !== undefined ? { keepLast } : {}),
      ...(set !== undefined ? { ruleSet: set } : {}),
      ...(regexes.length ? { regexes } : {}),
      ...(dictionary !== undefined ? { dictionary: parseList(dictionary) } : {}),
      ...(appliesTo !== undefined ? { appliesTo: checkedList(appliesTo, CHANNELS, "--applies-to") } : {}),
      ...(args.values["block-inference"] === true ? { blockInference: true } : {}),
    };
    const res = await ctx.api().post<{ rule: { id: string; name: string } }>("/masking", body);
    ctx.out.result(res, () => ctx.out.line(`added masking rule ${res.rule.name} (set ${set ?? "default"}, ${style})`));
  },
};

const rm: Command = {
  name: "rm",
  aliases: ["remove", "delete"],
  summary: "delete a masking rule",
  usage: "rm NAME",
  async run(ctx, args) {
    const [name] = positionals(args, "NAME");
    const res = await ctx.api().delete<{ id: string; name: string }>(path(name));
    ctx.out.result(res, () => ctx.out.line(`removed masking rule ${res.name}`));
  },
};

const test: Command = {
  name: "test",
  summary: "mask sample text with the stored rules and print the result (nothing is stored)",
  usage: "test --text TEXT [--sets pii,secrets] [--column table.col] [--channel sql|terminal|http|mcp]",
  help: `  --text TEXT      the sample; '-' reads it from stdin (keeps real data out of argv)
  --sets a,b       rule sets to apply (default: every enabled rule)
  --column T.C     mask TEXT as a value of this column, so column rules apply too
  --channel C      ${CHANNELS.join(", ")} (default sql); rules limited by --applies-to honour it`,
  options: { text: { type: "string" }, sets: { type: "string" }, column: { type: "string" }, channel: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const textFlag = str(args.values, "text");
    if (textFlag === undefined) throw new UsageError("--text is required ('-' reads stdin)");
    const sets = str(args.values, "sets");
    const column = str(args.values, "column");
    const channel = str(args.values, "channel");
    if (channel !== undefined && !CHANNELS.includes(channel)) throw new UsageError(`--channel must be one of ${CHANNELS.join(", ")}`);
    const ruleSets = sets !== undefined ? parseList(sets) : undefined;
    if (ruleSets && !ruleSets.length) throw new UsageError("--sets needs at least one rule set");
    const text = textFlag === "-" ? await ctx.readStdin() : textFlag;
    const body = { text, ...(ruleSets ? { ruleSets } : {}), ...(column !== undefined ? { column } : {}), ...(channel !== undefined ? { channel } : {}) };
    const res = await ctx.api().post<Tested>("/masking/test", body);
    ctx.out.result(res, () => {
      ctx.out.line(res.masked === null ? "NULL" : res.masked);
      const matches = res.counts.reduce((n, c) => n + c.matches, 0);
      ctx.out.note(matches ? `${matches} span(s) masked by ${res.counts.length} rule(s)` : "nothing matched");
    });
  },
};

const detectors: Command = {
  name: "detectors",
  summary: "list the built-in detectors (for --detectors)",
  usage: "detectors",
  async run(ctx, args) {
    positionals(args);
    const res = await ctx.api().get<{ detectors: Detector[]; styles: string[]; channels: string[] }>("/masking/detectors");
    ctx.out.result(res, () =>
      ctx.out.table(res.detectors, [
        { header: "NAME", value: (d) => d.name },
        { header: "CATEGORY", value: (d) => d.category },
        { header: "DESCRIPTION", value: (d) => d.description },
      ]),
    );
  },
};

export const masking: Group = {
  name: "masking",
  summary: "masking rules for results, terminals and HTTP bodies",
  commands: [list, add, rm, test, detectors],
};
