import { describe, expect, it } from "vitest";
import { checkRecording, RecordingDigest, type StoredEvent } from "./recording-digest";

const events = (n: number): StoredEvent[] =>
  Array.from({ length: n }, (_, i) => ({ seq: i + 1, tMs: i * 10, kind: i % 3 ? "term.o" : "term.i", payload: `{"ch": 0, "d": "line ${i}"}`, data: i % 7 === 0 ? Buffer.from(`bytes ${i}`) : null }));

async function* each(list: StoredEvent[]) {
  yield* list;
}

describe("recording digest", () => {
  it("a recording verifies against its own seal; marks stay at most 64 however long it is", async () => {
    for (const n of [0, 1, 64, 65, 1000]) {
      const d = new RecordingDigest();
      for (const e of events(n)) d.add(e);
      const seal = d.seal();
      expect(seal.marks.length).toBeLessThanOrEqual(64);
      expect(seal.events).toBe(n);
      expect(await checkRecording(each(events(n)), seal)).toEqual({ intact: true, events: n });
    }
  });

  it("an edit, a deletion, an addition, a changed time or absent-vs-empty bytes are told apart, and placed", async () => {
    const d = new RecordingDigest();
    for (const e of events(1000)) d.add(e);
    const seal = d.seal();
    const edited = events(1000);
    edited[499] = { ...edited[499], payload: `{"ch": 0, "d": "forged"}` };
    const e1 = await checkRecording(each(edited), seal);
    expect(e1).toMatchObject({ intact: false });
    if (!e1.intact) expect(e1.afterSeq < 500 && (e1.upToSeq ?? Infinity) >= 500).toBe(true);
    expect((await checkRecording(each(events(1000).filter((e) => e.seq !== 999)), seal)).intact).toBe(false);
    expect((await checkRecording(each(events(1001)), seal)).intact).toBe(false);
    const moved = events(1000);
    moved[10] = { ...moved[10], tMs: moved[10].tMs + 1 };
    expect((await checkRecording(each(moved), seal)).intact).toBe(false);
    const emptied = events(1000);
    emptied[1] = { ...emptied[1], data: Buffer.alloc(0) };
    expect((await checkRecording(each(emptied), seal)).intact).toBe(false);
  });

  it("a short recording names the edited event itself", async () => {
    const d = new RecordingDigest();
    for (const e of events(20)) d.add(e);
    const edited = events(20);
    edited[11] = { ...edited[11], kind: "term.x" };
    expect(await checkRecording(each(edited), d.seal())).toMatchObject({ intact: false, afterSeq: 11, upToSeq: 12 });
  });
});
