import { describe, expect, it } from "vitest";
import { StampChecks, type Basis } from "./catalog-stamps";

const basis = (oid: number, stamp = "s"): Basis => ({ stamps: [[oid, stamp]] });

describe("StampChecks: results masked at the same time share one catalog query", () => {
  it("checks the bases that arrive while a check is under way together, after it", async () => {
    const asked: number[][] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    const checks = new StampChecks(async (bases) => {
      asked.push(bases.map((b) => b.stamps[0][0]));
      if (asked.length === 1) await first;
      return bases.some((b) => b.stamps[0][1] === "changed");
    });
    const a = checks.changed([basis(1)]);
    await Promise.resolve();
    const b = checks.changed([basis(2)]);
    const c = checks.changed([basis(3, "changed")]);
    release();
    expect(await Promise.all([a, b, c])).toEqual([false, true, true]);
    expect(asked).toEqual([[1], [2, 3]]);
  });

  it("fails a batch whose query fails, and still checks the next", async () => {
    let calls = 0;
    const checks = new StampChecks(async () => {
      if (++calls === 1) throw new Error("the upstream catalog did not answer");
      return false;
    });
    const failed = checks.changed([basis(1)]);
    await expect(failed).rejects.toThrow("did not answer");
    expect(await checks.changed([basis(2)])).toBe(false);
  });
});
