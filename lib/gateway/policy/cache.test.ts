import { afterEach, describe, expect, it } from "vitest";
import type { Verdict } from "@/lib/gateway/core/types";
import { DecisionCache, decisionCacheKey, MAX_CACHE_KEY_LENGTH } from "./cache";
import fc from "fast-check";
import type { GatewayRequest } from "@/lib/gateway/core/types";
import { buildCedarRequest, sealForPolicy, type CedarRequest } from "./context";
import { PolicyRuntime } from "./runtime";
import { makeRequest, type RequestSpec } from "./test-fixtures";

const allow = (id: string): Verdict => ({ type: "allow", policies: [id] });

describe("DecisionCache (LRU)", () => {
  it("evicts the least recently used entry, counting hits and misses", () => {
    const c = new DecisionCache(2);
    c.set("a", allow("a"));
    c.set("b", allow("b"));
    expect(c.get("a")).toEqual(allow("a")); // a is now the most recent
    c.set("c", allow("c"));
    expect(c.get("b")).toBeUndefined();
    expect(c.get("a")).toBeDefined();
    expect(c.get("c")).toBeDefined();
    expect(c.stats()).toEqual({ size: 2, hits: 3, misses: 1 });
    c.invalidate();
    expect(c.get("a")).toBeUndefined();
  });
});

/** As a gateway session makes its requests: principal, connection and client sealed. */
function sealed(req: GatewayRequest): GatewayRequest {
  return { ...req, principal: sealForPolicy(req.principal), connection: sealForPolicy(req.connection), client: sealForPolicy(req.client) };
}

describe.each([
  ["spelled out", (r: GatewayRequest) => r],
  ["sealed session inputs", sealed],
])("decisionCacheKey (%s): everything Cedar sees is in the key", (_, prepare) => {
  const key = (spec: RequestSpec, time: "none" | "coarse" | "exact" = "none") => {
    const req = prepare(makeRequest(spec));
    const built = buildCedarRequest(req, req.now!);
    if (!built.ok) throw new Error(built.reason);
    return decisionCacheKey("engine-1", built.request, time);
  };

  const variations: [string, RequestSpec][] = [
    ["tables", { tables: ["customers"] }],
    ["functions", { functions: ["pg_read_file"] }],
    ["statement text", { text: "SELECT * FROM orders WHERE 1=1" }],
    ["kind", { kind: "write" }],
    ["action", { action: "tool" }],
    ["chain depth", { depth: 1 }],
    ["agent names", { depth: 1, agentNames: ["other"] }],
    ["groups", { groups: ["engineering", "dba"] }],
    ["role", { role: "admin" }],
    ["user", { email: "bob@example.com" }],
    ["connection", { connection: "billing-db" }],
    ["connection tags", { tags: ["prod"] }],
    ["client origin", { origin: "web-console" }],
    ["client address", { address: "10.0.0.9" }],
    ["active grant", { grantExpiresAt: new Date("2030-01-01T00:00:00Z") }],
  ];
  it.each(variations)("requests differing only in %s get different keys", (_, spec) => {
    expect(key(spec)).not.toEqual(key({}));
  });

  it("is canonical: set order and duplicates do not matter", () => {
    expect(key({ tables: ["a", "b", "a"], groups: ["y", "x"] })).toEqual(key({ tables: ["b", "a"], groups: ["x", "y"] }));
  });

  it("includes the engine identity", () => {
    const req = makeRequest();
    const built = buildCedarRequest(req, req.now!);
    if (!built.ok) throw new Error(built.reason);
    expect(decisionCacheKey("engine-1", built.request, "none")).not.toEqual(decisionCacheKey("engine-2", built.request, "none"));
  });

  it("leaves the statement text out only when no policy reads it", () => {
    const req = (text: string) => {
      const r = makeRequest({ text });
      const built = buildCedarRequest(r, r.now!);
      if (!built.ok) throw new Error(built.reason);
      return built.request;
    };
    const a = req("SELECT * FROM t WHERE id = 1");
    const b = req("SELECT * FROM t WHERE id = 2");
    expect(decisionCacheKey("engine-1", a, "none", false)).toEqual(decisionCacheKey("engine-1", b, "none", false));
    expect(decisionCacheKey("engine-1", a, "none", true)).not.toEqual(decisionCacheKey("engine-1", b, "none", true));
    expect(decisionCacheKey("engine-1", a, "none")).not.toEqual(decisionCacheKey("engine-1", b, "none"));
  });

  it("leaves time out only as far as the policies ignore it", () => {
    const morning = { now: new Date("2025-03-04T08:00:00Z") };
    const morningLater = { now: new Date("2025-03-04T08:59:00Z") };
    const evening = { now: new Date("2025-03-04T20:00:00Z") };
    expect(key(morning, "none")).toEqual(key(evening, "none"));
    expect(key(morning, "coarse")).toEqual(key(morningLater, "coarse"));
    expect(key(morning, "coarse")).not.toEqual(key(evening, "coarse"));
    expect(key(morning, "exact")).toBeNull();
  });

  it("an expired grant is not an active grant", () => {
    expect(key({ grantExpiresAt: new Date("2020-01-01T00:00:00Z") })).toEqual(key({}));
  });

  it("refuses to key huge statements", () => {
    expect(key({ text: "x".repeat(MAX_CACHE_KEY_LENGTH) })).toBeNull();
  });
});

describe("decisionCacheKey with sealed session inputs", () => {
  /** The key as if nothing were sealed: Cedar's whole input, spelled out. */
  const fullKey = (r: CedarRequest) => decisionCacheKey("engine-1", { ...r, sessionPartId: null }, "none");
  const spec = fc.record(
    {
      email: fc.constantFrom("alice@example.com", "bob@example.com"),
      role: fc.constantFrom("member" as const, "admin" as const),
      groups: fc.subarray(["engineering", "dba", "ops"]),
      depth: fc.integer({ min: 0, max: 2 }),
      agentNames: fc.array(fc.constantFrom("claude", "helper"), { maxLength: 2 }),
      connection: fc.constantFrom("orders-db", "billing-db"),
      tags: fc.subarray(["prod", "pii"]),
      address: fc.constantFrom("127.0.0.1", "10.0.0.9"),
      origin: fc.constantFrom("native" as const, "web-console" as const),
      tables: fc.subarray(["orders", "customers"]),
      text: fc.constantFrom("SELECT 1", "SELECT 2"),
    },
    { requiredKeys: [] },
  );

  it("two requests get one key exactly when Cedar would see the same input", () => {
    fc.assert(
      fc.property(spec, spec, fc.boolean(), fc.boolean(), (a, b, sealA, sealB) => {
        const build = (s: RequestSpec, seal: boolean) => {
          const req = makeRequest(s);
          const built = buildCedarRequest(seal ? sealed(req) : req, req.now!);
          if (!built.ok) throw new Error(built.reason);
          return built.request;
        };
        const [ra, rb] = [build(a, sealA), build(b, sealB)];
        const same = fullKey(ra) === fullKey(rb);
        const key = (r: CedarRequest) => decisionCacheKey("engine-1", r, "none");
        if (sealA === sealB) expect(key(ra) === key(rb)).toBe(same);
        else expect(key(ra)).not.toEqual(key(rb)); // an id and a spelled-out part never collide
      }),
      { numRuns: 500 },
    );
  });

  it("one sealed principal over two connections or from two clients: as many parts", () => {
    const base = sealed(makeRequest());
    const other = sealed(makeRequest({ connection: "billing-db", address: "10.0.0.9" }));
    const key = (r: GatewayRequest) => {
      const built = buildCedarRequest(r, r.now!);
      if (!built.ok) throw new Error(built.reason);
      return decisionCacheKey("engine-1", built.request, "none");
    };
    const keys = [base, { ...base, connection: other.connection }, { ...base, client: other.client }, other].map(key);
    expect(new Set(keys).size).toBe(4);
    expect(key({ ...base })).toBe(keys[0]);
  });

  it("sealing leaves byte buffers alone (they cannot be frozen)", () => {
    const req = makeRequest();
    const client = Object.assign(req.client, { fingerprint: Buffer.from("key") });
    expect(() => sealForPolicy(client)).not.toThrow();
    expect(Object.isFrozen(client)).toBe(true);
  });

  it("a sealed principal cannot change under its session", () => {
    const req = sealed(makeRequest());
    expect(() => req.principal.groups.push("admins")).toThrow(TypeError);
    expect(() => Object.assign(req.principal, { role: "admin" })).toThrow(TypeError);
    expect(() => Object.assign(req.connection, { name: "other" })).toThrow(TypeError);
  });
});

describe("PolicyRuntime decision cache", () => {
  const runtimes: PolicyRuntime[] = [];
  const runtime = () => {
    const r = new PolicyRuntime();
    runtimes.push(r);
    return r;
  };
  afterEach(() => runtimes.splice(0).forEach((r) => r.setPolicies("", "teardown")));

  const POLICIES = `
    @id("read") permit (principal, action == Gatehouse::Action::"read", resource)
      unless { context.request.tables.contains("secrets") };
    @id("shallow") @mask("pii") permit (principal, action == Gatehouse::Action::"read", resource)
      when { context.chain.depth >= 1 };
  `;

  it("serves repeats from the cache, but never shares a decision across tables or depth", () => {
    const rt = runtime();
    rt.setPolicies(POLICIES, "v1");
    expect(rt.decide(makeRequest())).toEqual({ type: "allow", policies: ["read"] });
    expect(rt.decide(makeRequest())).toEqual({ type: "allow", policies: ["read"] });
    expect(rt.cacheStats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
    expect(rt.decide(makeRequest({ tables: ["secrets"] })).type).toBe("deny");
    expect(rt.decide(makeRequest({ depth: 1 })).type).toBe("mask");
    expect(rt.cacheStats()).toMatchObject({ hits: 1, misses: 3, size: 3 });
  });

  it("a new policy version misses, even with the same version string", () => {
    const rt = runtime();
    rt.setPolicies(POLICIES, "v1");
    expect(rt.decide(makeRequest()).type).toBe("allow");
    rt.setPolicies(`@id("none") forbid (principal, action, resource);`, "v2");
    expect(rt.cacheStats()!.size).toBe(0); // old entries could never match; they are freed
    expect(rt.decide(makeRequest())).toMatchObject({ type: "deny", policies: ["none"] });
    rt.setPolicies(POLICIES, "v1");
    expect(rt.decide(makeRequest()).type).toBe("allow");
    rt.setPolicies(`@id("none") forbid (principal, action, resource);`, "v1");
    expect(rt.decide(makeRequest()).type).toBe("deny");
  });

  it("invalidate() empties the cache", () => {
    const rt = runtime();
    rt.setPolicies(POLICIES, "v1");
    rt.decide(makeRequest());
    rt.invalidate();
    expect(rt.cacheStats()!.size).toBe(0);
  });

  it("does not cache when policies read the exact time", () => {
    const rt = runtime();
    rt.setPolicies(`permit (principal, action, resource) when { context.time.epoch < 1800000000 };`, "t");
    expect(rt.decide(makeRequest({ now: new Date("2026-01-01T00:00:00Z") })).type).toBe("allow");
    expect(rt.decide(makeRequest({ now: new Date("2027-12-01T00:00:00Z") })).type).toBe("deny");
    expect(rt.cacheStats()!.size).toBe(0);
  });

  it("keys hour-based policies by hour", () => {
    const rt = runtime();
    rt.setPolicies(`permit (principal, action, resource) when { context.time.hour >= 8 && context.time.hour < 18 };`, "h");
    expect(rt.decide(makeRequest({ now: new Date("2025-03-04T09:00:00Z") })).type).toBe("allow");
    expect(rt.decide(makeRequest({ now: new Date("2025-03-04T09:00:00Z") })).type).toBe("allow");
    expect(rt.decide(makeRequest({ now: new Date("2025-03-04T22:00:00Z") })).type).toBe("deny");
    expect(rt.cacheStats()).toMatchObject({ hits: 1, size: 2 });
  });

  it("does not pin error denies", () => {
    const rt = runtime();
    rt.setPolicies(`permit (principal, action, resource) when { context.chain.depth * 9223372036854775807 > 0 };`, "e");
    expect(rt.decide(makeRequest({ depth: 2 })).type).toBe("deny");
    expect(rt.cacheStats()!.size).toBe(0);
  });
});
