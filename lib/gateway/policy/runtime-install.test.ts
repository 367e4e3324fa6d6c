import { describe, expect, it } from "vitest";
import { DEFAULT_POLICIES } from "./defaults";
import { PolicyRuntime } from "./runtime";

describe("PolicyRuntime.whenInstalled (a save answers once its version is in force here)", () => {
  it("asks the sync to load now and resolves once that version (or a later one) is installed", async () => {
    const rt = new PolicyRuntime();
    rt.setPolicies(DEFAULT_POLICIES, "1");
    let asked = 0;
    rt.setReloader(() => {
      asked++;
      setTimeout(() => rt.setPolicies(`${DEFAULT_POLICIES}\n// v3`, "3"), 20);
    });
    expect(await rt.whenInstalled(2, 2_000)).toBe(true);
    expect(asked).toBe(1);
    expect(rt.version).toBe("3");
    expect(await rt.whenInstalled(1, 10)).toBe(true); // already in force: no reload asked
    expect(asked).toBe(1);
  });

  it("resolves false when the version is not installed in time", async () => {
    const rt = new PolicyRuntime();
    rt.setPolicies(DEFAULT_POLICIES, "1");
    rt.setReloader(() => rt.setPolicies(DEFAULT_POLICIES, "1")); // the store still has version 1
    expect(await rt.whenInstalled(2, 50)).toBe(false);
  });
});
