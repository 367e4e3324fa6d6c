import type { RequestKind } from "@/lib/gateway/core/types";

/**
 * What a GNU sed script does besides printing, read command by command as GNU sed compiles it:
 * `e` and the `e` flag of `s` run a command (unknown); `w`, `W` and the `w` flag of `s` write a
 * file. Looking for `e` after a line number was not enough: an address may be a regex
 * (`/^/e id`), a step (`0~1e id`) or negated (`1!e id`), and a file name may follow `w` directly
 * (`1w/tmp/x`). A script that does not parse is unknown: sed would refuse it, but what the
 * classifier cannot read it does not vouch for.
 */
export function sedScriptKind(script: string): RequestKind {
  const s = script;
  let i = 0;
  let kind: RequestKind = "read";
  let depth = 0;
  const blank = () => {
    while (s[i] === " " || s[i] === "\t") i++;
  };
  const digits = () => {
    const start = i;
    while (s[i] >= "0" && s[i] <= "9") i++;
    return i > start;
  };
  const toLineEnd = () => {
    while (i < s.length && s[i] !== "\n") i++;
  };
  /** up to and past the next unescaped `delim`; false at a raw newline or the end */
  const delimited = (delim: string): boolean => {
    for (; i < s.length; i++) {
      if (s[i] === "\\") i++;
      else if (s[i] === delim) return ++i > 0;
      else if (s[i] === "\n") return false;
    }
    return false;
  };
  /** one address, if there is one; null when it is malformed */
  const address = (): boolean | null => {
    if (digits()) {
      if (s[i] === "~") {
        i++;
        if (!digits()) return null;
      }
      return true;
    }
    if (s[i] === "$") return ++i > 0;
    if (s[i] === "/" || s[i] === "\\") {
      const delim = s[i] === "\\" ? s[++i] : "/";
      if (delim === undefined || delim === "\n") return null;
      i++;
      if (!delimited(delim)) return null;
      while (s[i] === "I" || s[i] === "M") i++;
      return true;
    }
    return false;
  };
  /** a label (`b`, `t`, `T`, `:`, `v`): GNU sed stops it at a semicolon or a blank */
  const label = () => {
    blank();
    while (i < s.length && !" \t\n;".includes(s[i])) i++;
  };

  while (i < s.length) {
    while (" \t\n;".includes(s[i])) i++;
    if (i >= s.length) break;
    const first = address();
    if (first === null) return "unknown";
    if (first && s[i] === ",") {
      i++;
      blank();
      if (s[i] === "+" || s[i] === "~") {
        i++;
        if (!digits()) return "unknown";
      } else if (address() !== true) return "unknown";
    }
    blank();
    while (s[i] === "!") {
      i++;
      blank();
    }
    const cmd = s[i++];
    switch (cmd) {
      case "{":
        depth++;
        continue;
      case "}":
        if (--depth < 0) return "unknown";
        break;
      case "#":
        toLineEnd();
        continue;
      case "e":
        return "unknown";
      case "w":
      case "W":
        kind = "write";
        toLineEnd(); // the file name runs to the end of the line
        continue;
      case "r":
      case "R":
      case "a":
      case "i":
      case "c":
        // a file name or text runs to the end of the line; a backslash-newline continues the text
        for (; i < s.length && s[i] !== "\n"; i++) if (s[i] === "\\") i++;
        continue;
      case ":":
      case "b":
      case "t":
      case "T":
      case "v":
        label();
        break;
      case "q":
      case "Q":
      case "l":
      case "L":
        blank();
        digits();
        break;
      case "s":
      case "y": {
        const delim = s[i++];
        if (delim === undefined || delim === "\n" || delim === "\\") return "unknown";
        if (!delimited(delim) || !delimited(delim)) return "unknown";
        if (cmd === "y") break;
        let flag = s[i];
        for (; flag !== undefined && /[gpiImM0-9ew]/.test(flag); flag = s[++i]) {
          if (flag === "e") return "unknown";
          if (flag === "w") {
            kind = "write";
            break;
          }
        }
        if (flag === "w") {
          toLineEnd();
          continue;
        }
        break;
      }
      case "=": case "d": case "D": case "g": case "G": case "h": case "H": case "n": case "N":
      case "p": case "P": case "x": case "z": case "F":
        break;
      default:
        return "unknown";
    }
    // after a command: the end, a separator, a closing brace or a comment
    blank();
    if (i < s.length && !"\n;}#".includes(s[i])) return "unknown";
  }
  return depth === 0 ? kind : "unknown";
}
