import { describe, expect, it } from "vitest";
import { canonicalPayload, checkRecording, RecordingDigest, type StoredEvent } from "./recording-digest";

async function* each(list: StoredEvent[]) {
  yield* list;
}

/** As the recorder sends a payload, and as jsonb gives the same value back: keys reordered, spaced, numbers respelt. */
const sent = '{"action":"read","n":1e21,"f":0.1,"text":"caf\\u00e9 \\"q\\"","nested":{"b":[1,2.50,{"z":null,"a":true}],"a":-0}}';
const asJsonb = '{"f": 0.1, "n": 1000000000000000000000, "text": "café \\"q\\"", "action": "read", "nested": {"a": 0, "b": [1, 2.5, {"a": true, "z": null}]}}';

const events = (payload: string): StoredEvent[] => [
  { seq: 1, tMs: 0, kind: "connect", payload: '{"ok":true}', data: null },
  { seq: 2, tMs: 5, kind: "request", payload, data: null },
  { seq: 3, tMs: 9, kind: "term.o", payload: '{"ch":0,"n":3,"bin":"raw"}', data: Buffer.from("abc") },
];

describe("recording digest, scheme v2 (chained as recorded)", () => {
  // Seals already written must keep verifying: the bytes each link hashes never change.
  it.each([
    ["sha256-chain-v1", "ed235fd18be70a43335bddd657b53a58e624cf8b16806ff5b78bd6d7a2eac6c3", "2:bc391900a421c31c409f5dbdb291143b"],
    ["sha256-chain-v2", "47ef6ea69f9b00137835cb7ea22a46172bfa2a0dc7d87ccf3d9c526d76ab6a1c", "2:820fa83372955619c1ab1f632694800f"],
  ] as const)("%s gives the digest it always gave", (scheme, digest, mark) => {
    for (const canonical of [false, true]) {
      const d = new RecordingDigest(1, scheme);
      // `canonical` is the caller's promise; v1 ignores it, and v2 writes this text canonically only where no promise is made
      const request = canonical && scheme === "sha256-chain-v2" ? '{"kind":"read","text":"select 1"}' : '{"text": "select 1", "kind": "read"}';
      d.add({ seq: 1, tMs: 0, kind: "request", payload: request, canonical, data: null });
      d.add({ seq: 2, tMs: 12.5, kind: "term.o", payload: canonical && scheme === "sha256-chain-v2" ? '{"ch":0,"n":3}' : '{"ch": 0, "n": 3}', canonical, data: Buffer.from("abc") });
      d.add({ seq: 3, tMs: 13, kind: "é", payload: '{"d":"€"}', canonical, data: Buffer.alloc(0) });
      expect(d.seal()).toMatchObject({ digest, events: 3, lastSeq: 3 });
      expect(d.seal().marks[1]).toBe(mark);
    }
  });

  it("a payload chains alike as sent and as jsonb gives it back; a changed value does not", async () => {
    expect(canonicalPayload(sent)).toBe(canonicalPayload(asJsonb));
    const recorded = new RecordingDigest();
    for (const e of events(sent)) recorded.add(e);
    const seal = recorded.seal();
    expect(seal.scheme).toBe("sha256-chain-v2");
    expect(await checkRecording(each(events(asJsonb)), seal)).toEqual({ intact: true, events: 3 });
    const edited = asJsonb.replace('"read"', '"write"');
    expect(await checkRecording(each(events(edited)), seal)).toMatchObject({ intact: false, afterSeq: 1, upToSeq: 2 });
  });

  it("a v1 seal (jsonb's own text, and seals written before schemes were named) verifies as it was written", async () => {
    const v1 = new RecordingDigest(1, "sha256-chain-v1");
    for (const e of events(asJsonb)) v1.add(e);
    const { scheme: _scheme, ...unnamed } = v1.seal();
    expect(await checkRecording(each(events(asJsonb)), unnamed)).toEqual({ intact: true, events: 3 });
    expect(await checkRecording(each(events(asJsonb)), { ...unnamed, scheme: "sha256-chain-v1" })).toEqual({ intact: true, events: 3 });
    // v1 hashes the text as stored: the same value spelt otherwise is a difference there
    expect((await checkRecording(each(events(sent)), unnamed)).intact).toBe(false);
  });
});
