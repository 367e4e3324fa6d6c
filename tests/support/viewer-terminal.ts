import xtermHeadless from "@xterm/headless";

const { Terminal } = xtermHeadless;

/**
 * The terminal of someone who plays a cast: a real xterm.js, recording everything the played
 * output made it do besides drawing — what it answered (typed back into whatever reads the
 * terminal), titles, clipboard writes and the other OSC, DCS strings it parsed — and the screen.
 */
export async function playInTerminal(chunks: string[], size = { cols: 80, rows: 24 }) {
  const term = new Terminal({ ...size, allowProposedApi: true });
  const acted: string[] = [];
  term.onData((d) => acted.push(`answer ${JSON.stringify(d)}`));
  term.onTitleChange((t) => acted.push(`title ${t}`));
  for (const osc of [0, 1, 2, 4, 7, 8, 10, 11, 52, 1337]) term.parser.registerOscHandler(osc, (d) => (acted.push(`osc ${osc} ${d}`), false));
  term.parser.registerDcsHandler({ intermediates: "$", final: "q" }, (d) => (acted.push(`decrqss ${d}`), false));
  term.parser.registerDcsHandler({ intermediates: "+", final: "q" }, (d) => (acted.push(`xtgettcap ${d}`), false));
  for (const c of chunks) await new Promise<void>((r) => term.write(c, r));
  const lines: string[] = [];
  for (let y = 0; y < term.rows; y++) lines.push(term.buffer.active.getLine(y)!.translateToString(true));
  term.dispose();
  return { acted, screen: lines.join("\n").trimEnd() };
}

/** The output events of an asciicast v2 text, in order. */
export function castOutput(cast: string): string[] {
  return cast
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => JSON.parse(l) as [number, string, string])
    .filter((e) => e[1] === "o")
    .map((e) => e[2]);
}
