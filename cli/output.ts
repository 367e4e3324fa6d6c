import { UsageError } from "./args";
import { CliError } from "./http";
import { terminalSafe, terminalSafeJson } from "./terminal-safe";

/**
 * Everything a command prints goes through here, so `--json` is honoured in one place:
 * with it, stdout carries exactly one JSON document (or a raw stream such as NDJSON) and errors
 * go to stderr as `{ "error": { code, message } }`; without it, tables and short sentences.
 * Notes meant for a human (where a token was saved, "shown only once") always go to stderr so
 * `TOKEN=$(gatehouse tokens create)` captures just the token.
 */

export interface Writer {
  write(chunk: string): unknown;
}

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

export class Output {
  constructor(
    readonly json: boolean,
    readonly stdout: Writer = process.stdout,
    readonly stderr: Writer = process.stderr,
  ) {}

  /** The command's result: as JSON in --json mode, otherwise by `human()`. */
  result(data: unknown, human: () => void): void {
    if (this.json) this.printJson(data);
    else human();
  }

  printJson(data: unknown): void {
    this.stdout.write(terminalSafeJson(JSON.stringify(data, null, 2)) + "\n");
  }

  /**
   * Human output: what the server holds was chosen by others (reasons, statements, names, a
   * client's application name), so control characters are shown as `\xNN` and bidi and zero-width
   * ones as tags (terminalSafe), never sent to the terminal to act on. --json output keeps the data
   * exact, with such characters \u-escaped.
   */
  line(text = ""): void {
    this.stdout.write(terminalSafe(text) + "\n");
  }

  /** For humans only; silent in --json mode so stderr stays parseable there. */
  note(text: string): void {
    if (!this.json) this.stderr.write(terminalSafe(text) + "\n");
  }

  table<T>(rows: T[], columns: Column<T>[], empty = "(none)"): void {
    if (!rows.length) return this.line(empty);
    const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
    const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
    const fmt = (row: string[]) =>
      row
        .map((v, i) => (i === row.length - 1 ? v : v.padEnd(widths[i])))
        .join("  ")
        .trimEnd();
    this.line(fmt(columns.map((c) => c.header)));
    for (const row of cells) this.line(fmt(row));
  }

  /** "key: value" lines, keys aligned. */
  fields(pairs: [string, unknown][]): void {
    const width = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) this.line(`${(k + ":").padEnd(width + 1)} ${cell(v)}`);
  }

  error(err: unknown): number {
    const { code, message, exitCode, detail } = describe(err);
    if (this.json) {
      this.stderr.write(terminalSafeJson(JSON.stringify({ error: { code, message, ...(detail !== undefined ? { detail } : {}) } })) + "\n");
    } else {
      this.stderr.write(`gatehouse: ${terminalSafe(message)}\n`);
      if (code === "USAGE" && err instanceof UsageError && err.hint) this.stderr.write(`${terminalSafe(err.hint)}\n`);
    }
    return exitCode;
  }
}

function describe(err: unknown): { code: string; message: string; exitCode: number; detail?: unknown } {
  if (err instanceof UsageError) return { code: "USAGE", message: err.message, exitCode: 2 };
  if (err instanceof CliError) return { code: err.code, message: err.message, exitCode: err.exitCode, detail: err.detail };
  // A bug in the CLI itself: still one line and exit 1, not a stack trace on the user's screen.
  const message = err instanceof Error ? err.message : String(err);
  return { code: "INTERNAL", message: `unexpected error: ${message}`, exitCode: 1 };
}

/** Made terminal-safe here already, so column widths count what is shown. */
function cell(v: unknown): string {
  if (v === null || v === undefined || v === "") return "-";
  if (Array.isArray(v)) return v.length ? terminalSafe(v.map(String).join(",")) : "-";
  if (v instanceof Date) return formatTime(v.toISOString());
  return terminalSafe(String(v));
}

/** ISO timestamp → "2026-03-01 14:05Z": minute precision is what a table reader needs. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "-";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 16).replace("T", " ") + "Z";
}
