import { describe, expect, it } from "vitest";
import { isSubset, narrow } from "./narrowing";

const parent = { scopeConnections: ["db1", "db2"], scopeActions: ["connect", "read"], expiresAt: new Date(Date.now() + 600_000), depth: 1 };

describe("delegation narrowing", () => {
  it("a child inherits the parent's scope by default and a shorter default lifetime", () => {
    const r = narrow(parent, {});
    expect(r).toMatchObject({ ok: true, connections: ["db1", "db2"], actions: ["connect", "read"], depth: 2 });
    if (r.ok) expect(r.ttlSeconds).toBeLessThanOrEqual(600);
  });
  it("refuses wider connections or actions, including '*' under a limited parent", () => {
    expect(narrow(parent, { connections: ["db3"] })).toMatchObject({ ok: false, error: "invalid_scope" });
    expect(narrow(parent, { connections: ["*"] })).toMatchObject({ ok: false, error: "invalid_scope" });
    expect(narrow(parent, { actions: ["write"] })).toMatchObject({ ok: false, error: "invalid_scope" });
    expect(narrow(parent, { connections: ["db1"], actions: ["read"] })).toMatchObject({ ok: true, connections: ["db1"], actions: ["read"] });
  });
  it("refuses to outlive the parent", () => {
    expect(narrow(parent, { ttlSeconds: 3600 })).toMatchObject({ ok: false, error: "invalid_request" });
    expect(narrow({ ...parent, expiresAt: new Date(Date.now() - 1) }, {})).toMatchObject({ ok: false });
  });
  it("refuses depth beyond the maximum", () => {
    expect(narrow({ ...parent, depth: 3 }, {}, Date.now(), 3)).toMatchObject({ ok: false, error: "invalid_request" });
    expect(narrow({ ...parent, depth: 2 }, {}, Date.now(), 3)).toMatchObject({ ok: true, depth: 3 });
  });
  it("'*' parents allow anything", () => {
    expect(isSubset(["x", "*"], ["*"])).toBe(true);
    expect(isSubset(["*"], ["a"])).toBe(false);
  });
});
