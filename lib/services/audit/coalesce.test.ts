import { describe, expect, it } from "vitest";
import type { AuditEntry } from "./append";
import { RefusalCoalescer } from "./coalesce";

const refusal = (address: string, n: number): AuditEntry => ({ action: "api.auth_failed", subject: `api:/api/v1/p${n}`, detail: { address, reason: "bad token" } });

describe("RefusalCoalescer", () => {
  it("writes the first refusal of a key at once and the rest of its window as one counted row", async () => {
    const written: AuditEntry[] = [];
    const c = new RefusalCoalescer(async (e) => void written.push(e), 1000);
    for (let i = 0; i < 500; i++) await c.refuse("10.0.0.1", refusal("10.0.0.1", i), 10_000 + i);
    expect(written).toEqual([refusal("10.0.0.1", 0)]);
    await c.sweep(10_999);
    expect(written).toHaveLength(1);
    await c.sweep(11_000);
    expect(written).toHaveLength(2);
    expect(written[1]).toMatchObject({ action: "api.auth_failed", subject: "api:/api/v1/p499", detail: { address: "10.0.0.1", repeated: 499 } });
  });

  it("never folds the first refusal of a new key into another's count", async () => {
    const written: AuditEntry[] = [];
    const c = new RefusalCoalescer(async (e) => void written.push(e), 60_000);
    await c.refuse("a", refusal("10.0.0.1", 1), 0);
    await c.refuse("a", refusal("10.0.0.1", 2), 1);
    await c.refuse("b", refusal("10.0.0.2", 3), 2);
    expect(written.map((e) => e.detail!.address)).toEqual(["10.0.0.1", "10.0.0.2"]);
  });

  it("a refusal after the window opens a new one: written at once, with the old count before it", async () => {
    const written: AuditEntry[] = [];
    const c = new RefusalCoalescer(async (e) => void written.push(e), 100);
    await c.refuse("a", refusal("10.0.0.1", 1), 0);
    await c.refuse("a", refusal("10.0.0.1", 2), 50);
    await c.refuse("a", refusal("10.0.0.1", 3), 150);
    expect(written.map((e) => [e.subject, e.detail!.repeated])).toEqual([["api:/api/v1/p1", undefined], ["api:/api/v1/p2", 1], ["api:/api/v1/p3", undefined]]);
  });

  it("writes the first `burst` refusals of a window one by one, each with its own reason", async () => {
    const written: AuditEntry[] = [];
    const c = new RefusalCoalescer(async (e) => void written.push(e), 1000, 3);
    for (let i = 0; i < 10; i++) await c.refuse("a", refusal("10.0.0.1", i), i);
    expect(written.map((e) => e.subject)).toEqual(["api:/api/v1/p0", "api:/api/v1/p1", "api:/api/v1/p2"]);
    await c.sweep(1000);
    expect(written[3]).toMatchObject({ subject: "api:/api/v1/p9", detail: { repeated: 7 } });
  });

  it("keeps at most maxOpen windows: the oldest is closed (its count written) to open another", async () => {
    const written: AuditEntry[] = [];
    const c = new RefusalCoalescer(async (e) => void written.push(e), 60_000, 1, 2);
    await c.refuse("a", refusal("a", 1), 0);
    await c.refuse("a", refusal("a", 2), 1);
    await c.refuse("b", refusal("b", 3), 2);
    await c.refuse("c", refusal("c", 4), 3);
    expect(written.map((e) => [e.detail!.address, e.detail!.repeated])).toEqual([["a", undefined], ["b", undefined], ["a", 1], ["c", undefined]]);
  });
});
