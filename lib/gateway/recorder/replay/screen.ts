import * as headlessNs from "@xterm/headless";
import * as serializeNs from "@xterm/addon-serialize";
import type { Snapshot } from "./plan";
import { CountClamp, clampScreenSize } from "@/lib/terminal/count-clamp";
import { dropScrolledOff, isPlainOutput } from "./scroll-skip";

/**
 * A terminal screen on the server (xterm.js headless) that replays a channel's output and
 * serializes what is on screen at a keyframe, so the player can start a window from it instead
 * of from the beginning of the recording.
 */

// Both packages are CommonJS that also set __esModule: depending on the loader (Node ESM, tsx,
// Next's server bundle) the classes are on the namespace or on its default export.
type HeadlessModule = typeof import("@xterm/headless");
type SerializeModule = typeof import("@xterm/addon-serialize");
const headless: HeadlessModule = "Terminal" in headlessNs ? headlessNs : (headlessNs as unknown as { default: HeadlessModule }).default;
const serialize: SerializeModule = "SerializeAddon" in serializeNs ? serializeNs : (serializeNs as unknown as { default: SerializeModule }).default;

/** Output is handed to the emulator in chunks of about this size: few async hops... */
const WRITE_CHUNK = 128 * 1024;
/**
 * ...in writes of at most this many characters each: xterm parses each write whole and yields to
 * the event loop only between writes (after ~12 ms of them). One 1 MiB write of binary output was
 * one 135 ms block of the gateway's thread, felt by every live terminal of the process as a
 * keystroke echoed that late. Split anywhere: the parser and the UTF-16 decoder keep their state
 * from one write to the next.
 */
const XTERM_WRITE = 16 * 1024;

interface CoreInternals {
  coreService?: { isCursorHidden?: boolean };
  buffers?: { active?: { scrollTop?: number; scrollBottom?: number; x?: number; y?: number } };
}

export class ScreenModel {
  private readonly term: InstanceType<HeadlessModule["Terminal"]>;
  private readonly serializer: InstanceType<SerializeModule["SerializeAddon"]>;
  private pending: string[] = [];
  private pendingLength = 0;
  /** The scroll region was the full screen after the last flush, and only plain output is pending since. */
  private regionFull = true;
  private pendingPlain = true;
  /**
   * Recorded output and sizes are the remote host's and the client's to choose: bounded before
   * xterm.js sees them, since this runs on the thread that serves every gateway listener. The
   * size read is the one the pending output will be parsed at (resize flushes first).
   */
  private readonly clamp = new CountClamp(() => ({ cols: this.term.cols, rows: this.term.rows }));

  constructor(
    cols: number,
    rows: number,
    /** cut log-like output to what can still be on screen (scroll-skip.ts); off only to test that it changes nothing */
    private readonly skipScrolledOff = true,
  ) {
    // No scrollback: the player shows the screen only, and scrolled-off lines cost memory and time.
    // logLevel off: recorded binary output makes xterm log a parser warning per bad sequence.
    const size = clampScreenSize(cols, rows);
    this.term = new headless.Terminal({ cols: size.cols, rows: size.rows, scrollback: 0, allowProposedApi: true, logLevel: "off" });
    this.serializer = new serialize.SerializeAddon();
    this.term.loadAddon(this.serializer as never);
  }

  static async from(snapshot: Snapshot, skipScrolledOff = true): Promise<ScreenModel> {
    const screen = new ScreenModel(snapshot.cols, snapshot.rows, skipScrolledOff);
    await screen.write(snapshot.init);
    return screen;
  }

  get cols() {
    return this.term.cols;
  }
  get rows() {
    return this.term.rows;
  }

  async write(data: string): Promise<void> {
    data = this.clamp.text(data);
    if (!data) return;
    if (this.skipScrolledOff) {
      if (!isPlainOutput(data)) this.pendingPlain = false;
      else if (this.regionFull && this.pendingPlain) data = dropScrolledOff(data, this.term.rows);
    }
    this.pending.push(data);
    this.pendingLength += data.length;
    if (this.pendingLength >= WRITE_CHUNK) await this.flush();
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.flush();
    const size = clampScreenSize(cols, rows);
    this.term.resize(size.cols, size.rows);
    this.regionFull = this.scrollRegionIsFullScreen();
  }

  private flush(): Promise<void> {
    if (!this.pending.length) return Promise.resolve();
    const data = this.pending.join("");
    this.pending = [];
    this.pendingLength = 0;
    // Until xterm has parsed this batch the scroll region is unknown; what is written meanwhile is tracked anew.
    this.regionFull = false;
    this.pendingPlain = true;
    // xterm parses the writes in time slices and calls back when the last is on screen.
    return new Promise((resolve) => {
      let at = 0;
      for (; data.length - at > XTERM_WRITE; at += XTERM_WRITE) this.term.write(data.slice(at, at + XTERM_WRITE));
      this.term.write(data.slice(at), () => {
        this.regionFull = this.scrollRegionIsFullScreen();
        resolve();
      });
    });
  }

  private scrollRegionIsFullScreen(): boolean {
    const buf = (this.term as unknown as { _core?: CoreInternals })._core?.buffers?.active;
    // Unknown internals: assume the worst, and write everything.
    return !!buf && buf.scrollTop === 0 && buf.scrollBottom === this.term.rows - 1;
  }

  /**
   * The screen as a string that, written into a blank terminal of the same size, reproduces it.
   * The serializer restores cells, colours, the alternate screen, modes and the cursor position;
   * cursor visibility and the scroll region it leaves out are added here (from xterm internals,
   * guarded, and covered by tests so an xterm upgrade that moves them fails loudly).
   */
  async snapshot(): Promise<Snapshot> {
    await this.flush();
    let init = this.serializer.serialize({ scrollback: 0 });
    const core = (this.term as unknown as { _core?: CoreInternals })._core;
    const buf = core?.buffers?.active;
    if (buf && typeof buf.scrollTop === "number" && typeof buf.scrollBottom === "number" && (buf.scrollTop !== 0 || buf.scrollBottom !== this.term.rows - 1)) {
      // DECSTBM homes the cursor: put it back where it was.
      const origin = this.term.modes.originMode ? buf.scrollTop : 0;
      init += `\x1b[${buf.scrollTop + 1};${buf.scrollBottom + 1}r\x1b[${(buf.y ?? 0) - origin + 1};${(buf.x ?? 0) + 1}H`;
    }
    if (core?.coreService?.isCursorHidden) init += "\x1b[?25l";
    return { cols: this.term.cols, rows: this.term.rows, init };
  }

  dispose() {
    this.term.dispose();
  }
}
