/**
 * The words of a POSIX shell command line, as the shell upstream will see them: the classifier
 * must read the same words the shell runs, or a line can show it one command and run another.
 */
export interface Token {
  value: string;
  /** set for the target of a redirection: ">" (write) or "<" (read) */
  redirect?: ">" | "<";
  /**
   * The shell changes this word before the program sees it (a variable, `$'…'`, a glob, a brace
   * expansion): `value` is only its spelling, and what it becomes may be any option at all
   * (`X=-exec; find / $X sh \;`).
   */
  dynamic?: true;
  /** a redirection that duplicates or closes a descriptor (`>&2`, `2>&1`, `<&-`), not a file: value `&N` */
  duplicate?: true;
}

/**
 * Splits a command line into simple commands (at ; & && || | and newlines) and words, with
 * POSIX quoting and comments. Returns null for what it cannot lex (unterminated quotes).
 */
export function splitCommands(line: string): Token[][] | null {
  const commands: Token[][] = [];
  let words: Token[] = [];
  let cur = "";
  let inWord = false;
  let dynamic = false;
  let brace = false; // an unquoted "{" in this word: a later "," or ".." makes it a brace expansion
  let bracket = false; // an unquoted "[" in this word: a later "]" makes it a glob
  let pendingRedirect: Token["redirect"] | null = null;
  const endWord = () => {
    if (!inWord) return;
    const t: Token = { value: cur };
    if (pendingRedirect) t.redirect = pendingRedirect;
    if (dynamic) t.dynamic = true;
    words.push(t);
    pendingRedirect = null;
    cur = "";
    inWord = dynamic = brace = bracket = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "#" && !inWord) {
      // A word starting with # starts a comment to the end of the line; a quote inside it is no
      // quote (`echo #'` NL `sudo x` NL `#'` runs sudo), so it must not be lexed as one.
      while (i + 1 < line.length && line[i + 1] !== "\n") i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return null;
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "$") dynamic = true;
        // Inside double quotes a backslash quotes only $ ` " \ and newline; before anything else it stays.
        if (line[j] === "\\" && j + 1 < line.length && '$`"\\\n'.includes(line[j + 1])) {
          if (line[++j] !== "\n") cur += line[j];
        } else cur += line[j];
      }
      if (j >= line.length) return null;
      inWord = true;
      i = j;
    } else if (c === "\\") {
      if (i + 1 < line.length && line[i + 1] !== "\n") cur += line[i + 1];
      inWord = true;
      i++;
    } else if (c === " " || c === "\t") {
      endWord();
    } else if (c === ";" || c === "&" || c === "|" || c === "\n" || c === "(" || c === ")") {
      if (c === "&" && line[i + 1] === ">") {
        endWord();
        pendingRedirect = ">";
        i++;
        if (line[i + 1] === ">") i++;
        continue;
      }
      endCommand();
    } else if (c === ">" || c === "<") {
      // "2>&1", "2>/dev/null", "> file", ">> file": an fd number before it belongs to the operator.
      if (/^[0-9]+$/.test(cur) && inWord && !dynamic) {
        cur = "";
        inWord = false;
      } else endWord();
      // "<>" opens the file for reading and writing, creating it: a write.
      pendingRedirect = c === "<" && line[i + 1] === ">" ? ">" : c;
      if (line[i + 1] === ">" || line[i + 1] === "|") i++;
      if (line[i + 1] === "&") {
        // >&2 duplicates a descriptor, >&- closes one: not a file. Only when the whole word is
        // that: `>&1x`, `>& out` or `>&$X` write stdout and stderr to the file the word names.
        i++;
        let j = i + 1;
        while (j < line.length && /[0-9]/.test(line[j])) j++;
        if (j === i + 1 && line[j] === "-") j++;
        if (j > i + 1 && (j >= line.length || " \t;&|\n()<>".includes(line[j]))) {
          words.push({ value: `&${line.slice(i + 1, j)}`, redirect: ">", duplicate: true });
          pendingRedirect = null;
          i = j - 1;
        } else pendingRedirect = ">";
      }
    } else {
      if (c === "$" || c === "*" || c === "?") dynamic = true;
      else if (c === "{") brace = true;
      else if (brace && (c === "," || (c === "." && line[i + 1] === "."))) dynamic = true;
      else if (c === "[") bracket = true;
      else if (bracket && c === "]") dynamic = true;
      cur += c;
      inWord = true;
    }
  }
  endCommand();
  return commands;
}
