import { describe, expect, it } from "vitest";
import { MAX_SERIAL_ID, parseSerialId, serialId } from "./serial-id";

describe("serial ids", () => {
  it("accepts 1..int4 max and nothing else", () => {
    expect(parseSerialId("1")).toBe(1);
    expect(parseSerialId(String(MAX_SERIAL_ID))).toBe(MAX_SERIAL_ID);
    for (const bad of ["0", "-1", "2147483648", "99999999999", "1e3", "0x10", " 1", "1.0", "", undefined]) expect(parseSerialId(bad)).toBeNull();
    expect(serialId.safeParse(MAX_SERIAL_ID).success).toBe(true);
    for (const bad of [0, -1, 2 ** 31, 2 ** 53, 1e300, 1.5]) expect(serialId.safeParse(bad).success).toBe(false);
  });
});
