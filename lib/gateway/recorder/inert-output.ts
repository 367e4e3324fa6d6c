/**
 * Terminal output made safe to replay in someone else's terminal (`asciinema play` of an
 * exported cast). A recorded host chose those bytes: played raw, they can write the viewer's
 * clipboard (OSC 52), set and then report the window title, make the terminal answer queries by
 * "typing" into whatever runs after the player (DSR, DA, DECRQSS, XTVERSION, window reports),
 * smuggle bytes past a multiplexer (DCS tmux passthrough) or drive graphics protocols that read
 * files (APC). Those sequences are dropped; everything that only draws (text, colours, cursor
 * movement, modes, scrolling) is kept byte for byte. Streaming: a sequence split across output
 * events is recognised whole. Pure, for the export and its tests.
 *
 * Dropped: every OSC (titles, clipboard, hyperlinks, palette and its queries, notifications,
 * iTerm2 file transfer), every DCS, APC, PM and SOS string, ESC Z (DECID), and the CSI sequences
 * that answer or move the window: final n (DSR), c (DA), t (window ops and reports), x
 * (DECREQTPARM), $p (DECRQM), $w (DECRQPSR), > q (XTVERSION), ? u (keyboard flags query),
 * ? S (XTSMGRAPHICS), and ENQ (answerback). 8-bit C1 introducers (U+009B, U+009D, U+0090, U+009F, U+009E, U+0098)
 * count as their ESC forms, since terminals decoding UTF-8 C1 act on them.
 */
type State = "ground" | "esc" | "csi" | "string" | "string-esc";

const ESC = "\x1b";
/** CSI longer than this is not something a terminal draws with: it is dropped. */
const MAX_CSI = 256;
const C1: Record<string, string> = { "\x9b": "[", "\x9d": "]", "\x90": "P", "\x9f": "_", "\x9e": "^", "\x98": "X" };
/** where text stops being plain: ESC, CAN, SUB and the C1 controls that start or end a sequence */
const CONTROL = /[\x05\x1b\x18\x1a\x90\x98\x9a-\x9f]/g;

function answersOrMovesWindow(csi: string): boolean {
  const final = csi[csi.length - 1];
  const prefix = /^[<=>?]/.test(csi) ? csi[0] : "";
  const intermediates = csi.slice(0, -1).replace(/^[<=>?]?[0-9;:]*/, "");
  if ("nctx".includes(final)) return true;
  if ((final === "p" || final === "w") && intermediates.includes("$")) return true;
  if (final === "q" && prefix === ">") return true;
  if ((final === "u" || final === "S") && prefix === "?") return true;
  return false;
}

export class InertTerminalOutput {
  private state: State = "ground";
  /** the parameters of the CSI being read (after `ESC [`) */
  private csi = "";
  /** how the CSI being read was introduced, to keep it as it was sent */
  private csiIntro = "";

  write(text: string): string {
    let out = "";
    let i = 0;
    while (i < text.length) {
      if (this.state === "ground") {
        CONTROL.lastIndex = i;
        const next = CONTROL.exec(text);
        const j = next ? next.index : text.length;
        out += text.slice(i, j);
        i = j;
        if (!next) break;
      }
      const c = String.fromCodePoint(text.codePointAt(i)!);
      out += this.step(c);
      i += c.length;
    }
    return out;
  }

  private step(c: string): string {
    // ENQ: some terminals answer it with their answerback message
    if (c === "\x05") return "";
    // CAN and SUB abort any sequence in progress (and are shown by nothing)
    if (c === "\x18" || c === "\x1a") {
      this.state = "ground";
      return c;
    }
    switch (this.state) {
      case "ground":
        if (c === ESC) {
          this.state = "esc";
          return "";
        }
        if (c === "\x9a") return ""; // DECID: the terminal answers with its attributes
        return c in C1 ? this.introduce(C1[c], c) : c;
      case "esc":
        this.state = "ground";
        if (c === ESC) {
          this.state = "esc";
          return "";
        }
        // ESC before a C1 control: the control acts as itself, and ESC alone draws nothing
        if (c >= "\x80" && c <= "\x9f") return this.step(c);
        if (c === "Z") return "";
        return "[]P_^X".includes(c) ? this.introduce(c, ESC + c) : ESC + c;
      case "csi":
        if (c === ESC) {
          this.state = "esc";
          return "";
        }
        // a C1 control ends the CSI unfinished and acts on its own (0x9A: DECID), as in ground
        if (c >= "\x80" && c <= "\x9f") {
          this.state = "ground";
          return this.step(c);
        }
        this.csi += c;
        if (c >= "@" && c <= "~") {
          this.state = "ground";
          return answersOrMovesWindow(this.csi) ? "" : this.csiIntro + this.csi;
        }
        if (this.csi.length > MAX_CSI) this.state = "ground";
        return "";
      case "string":
        if (c === ESC) this.state = "string-esc";
        else if (c === "\x07" || c === "\x9c") this.state = "ground";
        return "";
      case "string-esc":
        if (c === "\\") {
          this.state = "ground";
          return "";
        }
        // ESC then anything but `\` ends the string and starts a new sequence
        this.state = "esc";
        return this.step(c);
    }
  }

  private introduce(kind: string, as: string): string {
    if (kind === "[") {
      this.state = "csi";
      this.csi = "";
      this.csiIntro = as;
    } else this.state = "string";
    return "";
  }
}
