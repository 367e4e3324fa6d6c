import type { ClientSide } from "./terminal-channel";

/** typed ahead beyond this while the command is decided, the client is no longer read until it runs */
const MAX_TYPED_AHEAD = 1024 * 1024;

/**
 * What the client sends on the channel: kept while its command is decided and opened upstream
 * (bounded: past MAX_TYPED_AHEAD the client is paused), then passed on in order, EOF included.
 * While `deciding` on a terminal, a Ctrl-C (0x03) in the input calls `interrupt` instead of being
 * kept: the terminal is the user's only way to say "stop waiting".
 */
export class PendingInput {
  deciding = false;
  /** a terminal's Ctrl-C while `deciding` */
  interrupt: () => void = () => {};
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private ended = false;
  private sink: ((data: Buffer) => boolean) | null = null;
  private end: (() => void) | null = null;

  constructor(
    private readonly client: ClientSide,
    private readonly terminal: boolean,
  ) {}

  /** Reads `client` from now on (`terminal`: it has a pty, so 0x03 is Ctrl-C). */
  static reading(client: ClientSide, terminal: boolean): PendingInput {
    const input = new PendingInput(client, terminal);
    client.onData((d) => input.data(d));
    client.onEof(() => input.eof());
    return input;
  }

  data(d: Buffer) {
    if (this.sink) return void (this.sink(d) || this.client.pause());
    if (this.deciding && this.terminal && d.includes(0x03)) return this.interrupt();
    this.kept.push(d);
    this.keptBytes += d.length;
    if (this.keptBytes > MAX_TYPED_AHEAD) this.client.pause();
  }

  eof() {
    if (this.end) this.end();
    else this.ended = true;
  }

  /** From now on input goes to `sink` (false: backpressure), after what was kept. */
  relayTo(sink: (data: Buffer) => boolean, end: () => void) {
    let open = true;
    for (const d of this.kept.splice(0)) open = sink(d) && open;
    this.keptBytes = 0;
    this.sink = sink;
    this.end = end;
    if (this.ended) end();
    else if (open) this.client.resume();
    else this.client.pause();
  }
}
