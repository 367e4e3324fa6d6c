import { describe, expect, it } from "vitest";
import type { AuditEntry } from "./append";
import { RefusalCoalescer } from "./coalesce";

const refusal = (n: number): AuditEntry => ({ action: "api.auth_failed", subject: `api:/p${n}`, detail: { address: "10.0.0.1", reason: "bad token" } });
const counted = (written: AuditEntry[]) => written.reduce((sum, e) => sum + (typeof e.detail?.repeated === "number" ? e.detail.repeated : 1), 0);

describe("RefusalCoalescer: counts are not lost when the process stops", () => {
  it("flush writes the counts of windows still open, ending them now", async () => {
    const written: AuditEntry[] = [];
    const c = new RefusalCoalescer(async (e) => void written.push(e), 60_000, 2);
    for (let i = 0; i < 50; i++) await c.refuse("k", refusal(i), 1000 + i);
    expect(written).toHaveLength(2);
    await c.flush(5000);
    expect(written).toHaveLength(3);
    expect(written[2].detail).toMatchObject({ repeated: 48, since: new Date(1000).toISOString(), until: new Date(5000).toISOString() });
    expect(counted(written)).toBe(50);
  });

  it("after flush every refusal is written at once, none held for a count nobody will write", async () => {
    const written: AuditEntry[] = [];
    const c = new RefusalCoalescer(async (e) => void written.push(e), 60_000, 1);
    await c.refuse("k", refusal(0), 0);
    await c.flush(1);
    for (let i = 1; i <= 3; i++) await c.refuse("k", refusal(i), 1 + i);
    expect(written.map((e) => e.subject)).toEqual(["api:/p0", "api:/p1", "api:/p2", "api:/p3"]);
  });

  it("a count is written once it is flushMs old, inside the window, so a killed process loses at most that much", async () => {
    const written: AuditEntry[] = [];
    const c = new RefusalCoalescer(async (e) => void written.push(e), 60_000, 1, 10_000, 1000);
    for (let i = 0; i < 10; i++) await c.refuse("k", refusal(i), i * 100);
    await c.sweep(999);
    expect(written).toHaveLength(1);
    await c.sweep(1000);
    expect(written[1].detail).toMatchObject({ repeated: 9, since: new Date(0).toISOString(), until: new Date(1000).toISOString() });
    for (let i = 0; i < 5; i++) await c.refuse("k", refusal(10 + i), 1500 + i);
    await c.sweep(60_000);
    expect(written[2].detail).toMatchObject({ repeated: 5, since: new Date(1000).toISOString(), until: new Date(60_000).toISOString() });
    expect(counted(written)).toBe(15);
  });
});
