import type { Masker } from "@/lib/gateway/masking";
import { asArray, str, stringValue, unwrap, type AstObject } from "./classify/ast";
import { parseSql } from "./classify/parser";
import type { FieldPlan } from "./masking";
import { wholeFirst } from "./masking";

/**
 * COPY TO STDOUT rows under a masker. Each CopyData is one row in the format the COPY asked
 * for, and the column plans only apply if the row is cut into the same fields the server wrote:
 * `FORMAT csv` separates with commas and quotes, `DELIMITER '|'` changes the separator (a
 * delimiter inside a text-format value is escaped with a backslash). Splitting every row at tabs
 * left a CSV row one field, masked with the first column's plan: the masked column went out.
 * A format the gateway cannot read (binary, another ENCODING, options it does not know) is
 * withheld.
 */

export interface CopyFormat {
  csv: boolean;
  delimiter: string;
  quote: string;
  escape: string;
  /** the first row holds column names */
  header: boolean;
  /** how NULL is written: left as it is */
  null: string;
}

const TEXT: CopyFormat = { csv: false, delimiter: "\t", quote: "", escape: "", header: false, null: "\\N" };

/** The row format of a `COPY ... TO STDOUT` statement; null: not readable here (rows withheld). */
export function copyFormatOf(text: string): CopyFormat | null {
  try {
    const stmt = unwrap(parseSql(text, "copyFormatOf").stmts?.[0]?.stmt);
    if (!stmt || stmt[0] !== "CopyStmt") return null;
    const opts = new Map<string, unknown>();
    for (const o of asArray(stmt[1].options)) {
      const d = unwrap(o);
      if (d?.[0] === "DefElem") opts.set(str(d[1].defname) ?? "", d[1].arg);
    }
    const format = opts.has("format") ? stringArg(opts.get("format")) : "text";
    if (format !== "text" && format !== "csv") return null;
    const csv = format === "csv";
    const out: CopyFormat = csv ? { csv, delimiter: ",", quote: '"', escape: '"', header: false, null: "" } : { ...TEXT };
    for (const [name, arg] of opts) {
      if (name === "format" || name === "force_quote" || name === "force_not_null" || name === "force_null" || name === "freeze") continue;
      if (name === "header") out.header = isOn(arg);
      else if (name === "delimiter" || name === "quote" || name === "escape" || name === "null") {
        const v = stringArg(arg);
        if (v === null) return null;
        out[name] = v;
      } else return null; // ENCODING (other bytes), and anything newer than this list
    }
    if (csv && !opts.has("escape")) out.escape = out.quote; // PostgreSQL: ESCAPE defaults to QUOTE
    if (out.delimiter.length !== 1 || (csv && (out.quote.length !== 1 || out.escape.length !== 1))) return null;
    if (!csv && out.delimiter === "\\") return null;
    return out;
  } catch {
    return null;
  }
}

function stringArg(arg: unknown): string | null {
  return stringValue(arg) ?? null;
}

/** HEADER with no value, true, on, 1, match; anything unclear counts as off (the row is then masked as data). */
function isOn(arg: unknown): boolean {
  if (arg === undefined) return true;
  const u = unwrap(arg);
  if (!u) return false;
  if (u[0] === "Boolean") return (u[1] as AstObject).boolval === true;
  if (u[0] === "Integer") return (u[1] as AstObject).ival === 1;
  return u[0] === "String" && ["true", "on", "1", "match", "yes"].includes((stringValue(arg) ?? "").toLowerCase());
}

/** A row's fields as written (quotes and escapes kept), or null when it does not split cleanly. */
export function splitCopyRow(line: string, f: CopyFormat): string[] | null {
  const cells: string[] = [];
  let start = 0;
  let i = 0;
  while (i <= line.length) {
    if (i === line.length || line[i] === f.delimiter) {
      cells.push(line.slice(start, i));
      start = ++i;
      continue;
    }
    if (!f.csv && line[i] === "\\") i += 2;
    else if (f.csv && i === start && line[i] === f.quote) {
      i++;
      for (;;) {
        if (i >= line.length) return null; // unterminated quote
        if (line[i] === f.escape && f.escape !== f.quote && line[i + 1] !== undefined && (line[i + 1] === f.quote || line[i + 1] === f.escape)) i += 2;
        else if (line[i] === f.quote && f.escape === f.quote && line[i + 1] === f.quote) i += 2;
        else if (line[i] === f.quote) break;
        else i++;
      }
      i++;
      if (i < line.length && line[i] !== f.delimiter) return null;
    } else i++;
  }
  return cells;
}

/** A CSV field's value (quotes removed, escapes undone); text-format fields are masked as written. */
function valueOf(cell: string, f: CopyFormat): string {
  if (!f.csv || !cell.startsWith(f.quote)) return cell;
  let out = "";
  for (let i = 1; i < cell.length - 1; i++) {
    if (cell[i] === f.escape && (cell[i + 1] === f.quote || cell[i + 1] === f.escape) && i + 1 < cell.length - 1) i++;
    out += cell[i];
  }
  return out;
}

/** A masked value back in the row. Text-format values were masked as written (escapes kept): only raw separators need escaping. */
function written(value: string, f: CopyFormat): string {
  if (f.csv) return f.quote + [...value].map((c) => (c === f.quote || c === f.escape ? f.escape + c : c)).join("") + f.quote;
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\") out += c + (value[++i] ?? "\\");
    else out += c === "\t" ? "\\t" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === f.delimiter ? `\\${c}` : c;
  }
  return out;
}

/**
 * One COPY OUT row masked per column, detectors as the backstop. A row that does not split into
 * as many fields as the COPY has columns is masked whole with every column's plans.
 */
export function maskCopyText(line: string, plans: readonly FieldPlan[], masker: Masker, f: CopyFormat): string {
  const cells = splitCopyRow(line, f);
  if (!cells || cells.length !== plans.length) {
    const all = wholeFirst(plans.flatMap((p) => p.plans.map((plan) => ({ plan }))));
    let v: string | null = line;
    for (const { plan } of all) v = v === null ? null : masker.maskValue(v, plan);
    return masker.maskValue(v ?? f.null) ?? f.null;
  }
  return cells
    .map((cell, i) => {
      if (cell === f.null) return cell; // unquoted: a NULL (a CSV value equal to it is quoted)
      const value = valueOf(cell, f);
      let v: string | null = value;
      for (const p of plans[i].plans) v = v === null ? null : masker.maskValue(v, p);
      if (v !== null) v = masker.maskValue(v);
      if (v === null) return f.null;
      return v === value ? cell : written(v, f);
    })
    .join(f.delimiter);
}
