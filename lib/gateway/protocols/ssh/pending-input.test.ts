import { describe, expect, it } from "vitest";
import { PendingInput } from "./pending-input";
import type { ClientSide } from "./terminal-channel";

/** A client channel that records what the input did to it. */
function fakeClient() {
  const calls: string[] = [];
  let onData: (d: Buffer) => void = () => {};
  let onEof: () => void = () => {};
  const client: ClientSide = {
    write: () => true,
    writeStderr: () => {},
    onData: (fn) => void (onData = fn),
    onEof: (fn) => void (onEof = fn),
    onClose: () => {},
    onDrain: () => {},
    pause: () => void calls.push("pause"),
    resume: () => void calls.push("resume"),
    exit: () => {},
    end: () => {},
  };
  return { client, calls, send: (s: string) => onData(Buffer.from(s)), eof: () => onEof() };
}

describe("PendingInput", () => {
  it("keeps what is typed before the command runs and passes it on first, in order, then the rest", () => {
    const c = fakeClient();
    const input = PendingInput.reading(c.client, true);
    c.send("ls\r");
    c.send("pwd\r");
    const got: string[] = [];
    input.relayTo((d) => (got.push(d.toString()), true), () => got.push("EOF"));
    c.send("exit\r");
    expect(got).toEqual(["ls\r", "pwd\r", "exit\r"]);
    expect(c.calls).toEqual(["resume"]);
  });

  it("a terminal's Ctrl-C while deciding interrupts instead of being kept; otherwise it is input", () => {
    const c = fakeClient();
    const input = PendingInput.reading(c.client, true);
    let interrupted = 0;
    input.interrupt = () => interrupted++;
    c.send("\x03"); // not deciding yet: typed ahead
    input.deciding = true;
    c.send("abc\x03");
    input.deciding = false;
    c.send("\x03");
    const got: string[] = [];
    input.relayTo((d) => (got.push(d.toString()), true), () => {});
    expect(interrupted).toBe(1);
    expect(got).toEqual(["\x03", "\x03"]);
  });

  it("without a terminal 0x03 is data, also while deciding", () => {
    const c = fakeClient();
    const input = PendingInput.reading(c.client, false);
    input.interrupt = () => {
      throw new Error("no terminal, no Ctrl-C");
    };
    input.deciding = true;
    c.send("\x03\x00binary");
    const got: Buffer[] = [];
    input.relayTo((d) => (got.push(d), true), () => {});
    expect(Buffer.concat(got)).toEqual(Buffer.from("\x03\x00binary"));
  });

  it("an EOF that came before the command ran is passed on after what was kept", () => {
    const c = fakeClient();
    const input = PendingInput.reading(c.client, false);
    c.send("stdin");
    c.eof();
    const got: string[] = [];
    input.relayTo((d) => (got.push(d.toString()), true), () => got.push("EOF"));
    expect(got).toEqual(["stdin", "EOF"]);
    expect(c.calls).toEqual([]);
  });

  it("stops reading the client past 1 MiB typed ahead, and under the command's backpressure", () => {
    const c = fakeClient();
    const input = PendingInput.reading(c.client, false);
    c.send("x".repeat(1024 * 1024));
    expect(c.calls).toEqual([]);
    c.send("y");
    expect(c.calls).toEqual(["pause"]);
    input.relayTo(() => false, () => {});
    expect(c.calls).toEqual(["pause", "pause"]);
    c.send("z");
    expect(c.calls).toEqual(["pause", "pause", "pause"]);
  });
});
