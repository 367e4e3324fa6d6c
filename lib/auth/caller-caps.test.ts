import { describe, expect, it } from "vitest";
import type { Principal } from "@/lib/gateway/core/types";
import { CallerCap, capKeyOf } from "./caller-caps";

const user = { userId: "u1" };
const agent = (tokenIds: string[]) => ({ userId: "u1", principal: { tokenId: tokenIds.at(-1), chain: [{ kind: "user", id: "u1", name: "a@x", tokenId: "root" }, ...tokenIds.map((t) => ({ kind: "agent", id: t, name: t, tokenId: t }))] } as unknown as Principal });

describe("per-caller caps", () => {
  it("keys people by user and agents by their branch (first agent below the human)", () => {
    expect(capKeyOf(user)).toBe("user:u1");
    expect(capKeyOf({ userId: "u1", principal: { chain: [{ kind: "user", id: "u1", name: "a@x", tokenId: "root" }] } as unknown as Principal })).toBe("user:u1");
    expect(capKeyOf(agent(["a1"]))).toBe("branch:a1");
    expect(capKeyOf(agent(["a1", "a1-child"]))).toBe("branch:a1");
    expect(capKeyOf(agent(["a2"]))).toBe("branch:a2");
  });

  it("refuses past the limit, frees on release (once), and keeps callers apart", async () => {
    const cap = new CallerCap("things", () => 2);
    const r1 = cap.acquire(user)!;
    const r2 = cap.acquire(user)!;
    expect(cap.acquire(user)).toBeNull();
    expect(cap.acquire(agent(["a1"]))).not.toBeNull();
    r1();
    r1();
    expect(cap.acquire(user)).not.toBeNull();
    expect(cap.acquire(user)).toBeNull();
    r2();
    await expect(cap.within(user, async () => cap.within(user, async () => 1))).rejects.toMatchObject({ code: "RATE_LIMITED" });
    // A throwing body still frees its slot.
    await expect(cap.within(user, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await cap.within(user, async () => 7)).toBe(7);
  });
});
