import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, openPostgres, setDbHandle, type DbHandle } from "@/db/client";
import type { Caller } from "@/lib/auth/caller";
import { takeSharedSlot } from "@/lib/services/mcp/shared-call-slots";
import { createDatabase, startPostgres15, type Postgres15 } from "../../tests/support/postgres";
import { branchesOf, takeCallSlot } from "./call-slots";

/**
 * MCP call slots nest at every depth of delegation: with a pool of 8 for a user's agents, an agent's
 * branch may hold 4, each sub-agent's 2, each sub-sub-agent's 1. Before, only the top-level branch
 * had a share: one sub-agent could take all 4 of its agent's and leave its siblings nothing.
 */
process.env.GATEHOUSE_MCP_MAX_CALLS_PER_USER = "8";

type Who = Pick<Caller, "userId" | "principal">;
const human = { kind: "user" as const, id: "u1", name: "dev@example.test" };
const agent = (name: string, tokenId: string) => ({ kind: "agent" as const, id: name, name, tokenId });
const as = (...chain: ReturnType<typeof agent>[]): Who => ({ userId: "u1", principal: { userId: "u1", email: human.name, chain: [human, ...chain], tokenId: chain.at(-1)!.tokenId } as unknown as Caller["principal"] });

const A = agent("agent-a", "t-a");
const S1 = agent("helper-1", "t-s1");
const S2 = agent("helper-2", "t-s2");
const SS = agent("helper-1-child", "t-ss");
const B = agent("agent-b", "t-b");

describe("nested shares of MCP call slots", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openPglite(null);
    setDbHandle(handle);
  });
  afterAll(async () => {
    setDbHandle(undefined);
    await handle.close();
  });

  it("each level may hold half of the level above it", () => {
    expect(branchesOf(as(A, S1, SS)).map((b) => [b.agent, b.limit])).toEqual([
      ["agent-a", 4],
      ["helper-1", 2],
      ["helper-1-child", 1],
    ]);
    expect(branchesOf({ userId: "u1", principal: undefined })).toEqual([]);
  });

  it("one busy sub-agent cannot starve its sibling, nor its own sub-agent its parent", async () => {
    const held: (() => void)[] = [];
    const take = async (who: Who) => {
      const r = await takeCallSlot(who);
      if (typeof r === "function") held.push(r);
      return typeof r === "function" ? "ok" : r;
    };
    expect([await take(as(A, S1)), await take(as(A, S1)), await take(as(A, S1))]).toEqual(["ok", "ok", "agent:2"]);
    // its sibling still gets its share, then the branch of agent-a is full for everyone in it
    expect([await take(as(A, S2)), await take(as(A, S2))]).toEqual(["ok", "ok"]);
    expect(await take(as(A))).toBe("agent");
    // another agent of the same user is not touched
    expect([await take(as(B)), await take(as(B)), await take(as(B)), await take(as(B))]).toEqual(["ok", "ok", "ok", "ok"]);
    for (const release of held.splice(0)) release();
    expect([await take(as(A, S1, SS)), await take(as(A, S1, SS)), await take(as(A, S1))]).toEqual(["ok", "agent:3", "ok"]);
    for (const release of held.splice(0)) release();
  });
});

describe("nested shares counted across processes (PostgreSQL 15)", () => {
  let pg: Postgres15;
  let handle: DbHandle;
  beforeAll(async () => {
    pg = await startPostgres15();
    handle = await openPostgres(await createDatabase(pg, "slots"));
  }, 60_000);
  afterAll(async () => {
    await handle?.close();
    await pg?.stop();
  });

  it("a sub-agent's rows count in its own share and in every branch above it", async () => {
    const pool = "agents:u1";
    const take = (who: Who) => takeSharedSlot(handle.db, pool, 8, branchesOf(who));
    const s1 = [await take(as(A, S1)), await take(as(A, S1))];
    for (const id of s1) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await take(as(A, S1))).toBe("agent:2");
    expect(await take(as(A, S1, SS))).toBe("agent:2");
    expect(await take(as(A, S2))).toMatch(/^[0-9a-f-]{36}$/);
    expect(await take(as(A))).toMatch(/^[0-9a-f-]{36}$/);
    expect(await take(as(A, S2))).toBe("agent");
    expect(await take(as(B))).toMatch(/^[0-9a-f-]{36}$/);
  }, 30_000);
});
