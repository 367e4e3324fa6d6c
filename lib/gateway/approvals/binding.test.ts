import { describe, expect, it } from "vitest";
import { bindingHash, normalizeForConnection, normalizeSqlText, type BindingInput } from "./binding";

const base: BindingInput = {
  connectionId: "c-1",
  requesterUserId: "u-alice",
  chain: [{ kind: "user", id: "u-alice", name: "alice@example.test" }],
  action: "write",
  normalizedText: "UPDATE invoices SET paid = true WHERE id = $1",
  params: ["42"],
};

describe("bindingHash", () => {
  it("is stable for the same input", () => {
    expect(bindingHash(base)).toBe(bindingHash({ ...base, chain: [...base.chain], params: ["42"] }));
    expect(bindingHash(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each<[string, Partial<BindingInput>]>([
    ["text", { normalizedText: "UPDATE invoices SET paid = true WHERE id = $2" }],
    ["params", { params: ["43"] }],
    ["a null param vs the string 'null'", { params: [null] }],
    ["no params vs empty params", { params: undefined }],
    ["more params", { params: ["42", "1"] }],
    ["connection", { connectionId: "c-2" }],
    ["requester", { requesterUserId: "u-bob" }],
    ["action", { action: "ddl" }],
    ["chain: an agent acting for the user", { chain: [...base.chain, { kind: "agent", id: "claude", name: "claude" }] }],
    ["chain: a different agent", { chain: [...base.chain, { kind: "agent", id: "cursor", name: "cursor" }] }],
    ["chain: kind", { chain: [{ kind: "service", id: "u-alice", name: "alice@example.test" }] }],
  ])("changes when the %s changes", (_what, change) => {
    expect(bindingHash({ ...base, ...change })).not.toBe(bindingHash(base));
  });

  it("distinguishes [] from undefined and [null] from ['null']", () => {
    expect(bindingHash({ ...base, params: [] })).not.toBe(bindingHash({ ...base, params: undefined }));
    expect(bindingHash({ ...base, params: [null] })).not.toBe(bindingHash({ ...base, params: ["null"] }));
  });

  it("cannot be collided by moving characters between fields", () => {
    const a = bindingHash({ ...base, normalizedText: 'x","y', params: ["z"] });
    const b = bindingHash({ ...base, normalizedText: "x", params: ["y", "z"] });
    expect(a).not.toBe(b);
    expect(bindingHash({ ...base, connectionId: "c-1", requesterUserId: "u" })).not.toBe(bindingHash({ ...base, connectionId: "c-1u", requesterUserId: "" }));
  });

  it("ignores token ids (the same people re-authenticating are the same requester)", () => {
    const withToken = { ...base, chain: [{ ...base.chain[0], tokenId: "t-1" }] };
    expect(bindingHash(withToken)).toBe(bindingHash(base));
  });
});

describe("normalizeSqlText", () => {
  it("collapses whitespace outside literals and trims", () => {
    expect(normalizeSqlText("  UPDATE   invoices\n\tSET paid = true\r\n WHERE id = 1 ")).toBe("UPDATE invoices SET paid = true WHERE id = 1");
    expect(normalizeSqlText("SELECT $1,  $2")).toBe("SELECT $1, $2");
  });

  it("never touches literals or quoted identifiers", () => {
    expect(normalizeSqlText("SELECT  'a   b',  \"My   Col\",  `x  y`")).toBe("SELECT 'a   b', \"My   Col\", `x  y`");
    expect(normalizeSqlText("SELECT 'it''s   here'  ,1")).toBe("SELECT 'it''s   here' ,1");
    expect(normalizeSqlText("SELECT $$a   b$$,  $fn$ x  $$ y $fn$")).toBe("SELECT $$a   b$$, $fn$ x  $$ y $fn$");
    expect(normalizeSqlText("SELECT 'MiXeD   Case'")).toBe("SELECT 'MiXeD   Case'");
  });

  it("keeps statements that run differently apart", () => {
    const pairs: [string, string][] = [
      ["SELECT 'a  b'", "SELECT 'a b'"],
      ["SELECT 1 -- note\nDELETE FROM t", "SELECT 1 -- note DELETE FROM t"],
      ["SELECT 1 /* a */  , 2", "SELECT 1 /* a */ , 2"],
      ["SELECT E'a\\'  b'", "SELECT E'a\\' b'"],
      ["SELECT 'a'\n'b'", "SELECT 'a' 'b'"],
      ["SELECT a$b  ,1", "SELECT a$b ,1"],
      ["SELECT 'unterminated   x", "SELECT 'unterminated x"],
      ["SELECT $q$ open   ", "SELECT $q$ open "],
      ["SELECT 1 # mysql comment\nDELETE FROM t", "SELECT 1 # mysql comment DELETE FROM t"],
      ["DELETE FROM t", "delete from t"],
      ["SELECT a\u00a0", "SELECT a"],
    ];
    for (const [a, b] of pairs) expect({ a, b, same: normalizeSqlText(a) === normalizeSqlText(b) }).toEqual({ a, b, same: false });
  });

  it("gives up (exact text) on backslashes, comments and odd dollars", () => {
    for (const t of ["SELECT  E'x\\n'", "SELECT  1 -- c", "SELECT  1 /* c */", "SELECT  1 # c", "SELECT  a$b", "SELECT  $x"]) expect(normalizeSqlText(t)).toBe(t);
  });

  it("keeps a newline between string literals (PostgreSQL concatenates only across a newline)", () => {
    expect(normalizeSqlText("SELECT 'a'   \n  'b'")).toBe("SELECT 'a'\n'b'");
  });

  it("is exact for shell commands, HTTP and exec, where a newline separates commands", () => {
    expect(normalizeForConnection("ssh", "ls\nrm -rf /")).toBe("ls\nrm -rf /");
    expect(normalizeForConnection("kubernetes", "sh -c 'a   b'  ")).toBe("sh -c 'a   b'  ");
    expect(normalizeForConnection("postgres", "SELECT   1")).toBe("SELECT 1");
    expect(normalizeForConnection("mysql", "SELECT   1")).toBe("SELECT 1");
  });
});
