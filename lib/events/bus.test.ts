import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgres, type DbHandle } from "@/db/client";
import { startPostgres15, type Postgres15 } from "@/tests/support/postgres";
import { EventBus } from "./bus";
import { LocalWatches, RemoteWatches } from "./watches";

const TOPIC = "test.watched";
const keyOf = (item: { key: string }) => item.key;

describe("watches", () => {
  it("counts local watches: announce the first, end with the last", () => {
    const w = new LocalWatches();
    expect(w.add(TOPIC, "a")).toBe(true);
    expect(w.add(TOPIC, "a")).toBe(false);
    expect(w.add("other", "a")).toBe(true);
    expect(w.remove(TOPIC, "a")).toBe(false);
    expect(w.remove(TOPIC, "a")).toBe(true);
    expect(w.remove(TOPIC, "a")).toBe(false);
    expect(w.all()).toEqual([["other", "a"]]);
  });

  it("forgets another process's watch when it ends it or stops renewing it", () => {
    const r = new RemoteWatches(1_000);
    r.note("n1", [[TOPIC, "a"]], true, 0);
    r.note("n2", [[TOPIC, "a"]], true, 500);
    expect(r.has(TOPIC, "a", 900)).toBe(true);
    expect(r.has(TOPIC, "b", 900)).toBe(false);
    r.note("n2", [[TOPIC, "a"]], false, 900);
    expect(r.has(TOPIC, "a", 999)).toBe(true);
    expect(r.has(TOPIC, "a", 1_001)).toBe(false); // n1 never renewed
    expect(r.empty).toBe(true);
  });
});

/** Three buses on three connections to one real PostgreSQL, as three Gatehouse processes. */
describe("EventBus on-demand topics over LISTEN/NOTIFY", () => {
  let pg: Postgres15;
  const handles: DbHandle[] = [];
  const [a, b, c] = [new EventBus(), new EventBus(), new EventBus()];
  const got: string[] = [];
  let sentinel = 0;

  beforeAll(async () => {
    pg = await startPostgres15();
    for (const bus of [a, b]) {
      const h = await openPostgres(pg.url);
      handles.push(h);
      await bus.attach(h);
    }
    b.subscribe<{ key: string; n: number }>(TOPIC, (d) => got.push(`${d.key}${d.n}`));
  });
  afterAll(async () => {
    for (const bus of [a, b, c]) await bus.detach();
    for (const h of handles) await h.close();
    await pg?.stop();
  });

  /**
   * Everything `from` sent before now has been handled by `to`: NOTIFYs of one connection arrive
   * in order, so once a broadcast sent after them arrives, so have they.
   */
  const settled = async (from: EventBus, to: EventBus) => {
    const n = ++sentinel;
    const seen = to.waitFor<{ n: number }>("test.sentinel", (d) => d.n === n, 5_000);
    await from.publish("test.sentinel", { n });
    expect(await seen).toEqual({ n });
  };
  const publish = async (bus: EventBus, n: number) => {
    await bus.publishMany(TOPIC, [{ key: "k1", n }, { key: "k2", n }], { watchKey: keyOf });
    await settled(bus, b);
  };

  it("sends another process only the keys it watches, and only while it watches them", async () => {
    const local: string[] = [];
    const offLocal = a.subscribe<{ key: string; n: number }>(TOPIC, (d) => local.push(`${d.key}${d.n}`));
    await publish(a, 1);
    expect(got).toEqual([]);
    expect(local).toEqual(["k11", "k21"]); // local delivery never depends on watches

    const watch = b.watch(TOPIC, "k1");
    expect(await watch.ready).toBe(true);
    await settled(b, a);
    await publish(a, 2);
    expect(got).toEqual(["k12"]);

    // a second viewer of the same key in b, then the first leaves: still watched
    const second = b.watch(TOPIC, "k1");
    expect(await second.ready).toBe(true);
    watch.stop();
    watch.stop(); // twice is once
    await settled(b, a);
    await publish(a, 3);
    expect(got).toEqual(["k12", "k13"]);

    second.stop();
    await settled(b, a);
    await publish(a, 4);
    expect(got).toEqual(["k12", "k13"]);
    offLocal();
  });

  it("a process that starts later learns the watches already announced", async () => {
    got.length = 0;
    const watch = b.watch(TOPIC, "k2");
    await watch.ready;
    const h = await openPostgres(pg.url);
    handles.push(h);
    await c.attach(h); // asks the others to announce their watches
    await settled(c, b); // b has seen c's question…
    await settled(b, c); // …and c b's answer
    await publish(c, 5);
    expect(got).toEqual(["k25"]);
    watch.stop();
  });

  it("one process's NOTIFYs arrive in the order they were sent, however many are in flight", async () => {
    const seen: number[] = [];
    const all = new Promise<void>((resolve) => {
      const off = b.subscribe<{ i: number }>("test.order", (d) => {
        seen.push(d.i);
        if (seen.length === 300) resolve(off());
      });
    });
    await Promise.all(Array.from({ length: 300 }, (_, i) => a.publish("test.order", { i })));
    await all;
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it("the same message sent twice arrives twice (PostgreSQL merges identical NOTIFYs of one transaction)", async () => {
    let n = 0;
    const off = b.subscribe<{ same?: true }>("test.twice", (d) => (n += d.same ? 1 : 0));
    // the first goes out alone; the two alike wait for it, together
    await Promise.all([a.publish("test.twice", { first: true }), a.publish("test.twice", { same: true }), a.publish("test.twice", { same: true })]);
    await settled(a, b);
    off();
    expect(n).toBe(2);
  });

  it("without a database bridge a watch is local and ready at once", async () => {
    const alone = new EventBus();
    const watch = alone.watch(TOPIC, "k1");
    expect(await watch.ready).toBe(false);
    watch.stop();
  });
});
