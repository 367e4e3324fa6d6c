import { beforeAll, describe, expect, it } from "vitest";
import { compileMasker } from "@/lib/gateway/masking";
import { CancelRegistry } from "./cancel";
import { initClassifier } from "./classify";
import { decodeParams, ExtendedState } from "./extended";
import { alignSources, maskRow } from "./masking";
import { splitSource } from "./source-plans";
import { maskServerFields } from "./server-messages";
import type { ErrorFields } from "./wire";
import { fieldsOfPortal } from "./portal-formats";
import { notifierPid } from "./relay";
import { sampleLimitsOf } from "./unit";

/** Pure helpers of the gateway: source alignment, row masking, batch planning, cancel keys. */

const masker = compileMasker(
  [
    { id: "cols", name: "cols", enabled: true, detectors: [], columns: ["*.ssn"], style: "redact" },
    { id: "det", name: "det", enabled: true, detectors: ["email"], columns: [], style: "redact" },
  ],
  { hashKey: "k" },
);

beforeAll(() => initClassifier());

describe("alignSources", () => {
  it("matches by position without stars and refuses a length mismatch", () => {
    expect(alignSources(2, [{ name: "a", sources: ["t.a"] }, { name: "b", sources: ["t.b"] }])).toEqual([["t.a"], ["t.b"]]);
    expect(alignSources(3, [{ name: "a", sources: ["t.a"] }])).toEqual([null, null, null]);
  });
  it("aligns before the first star from the start and after the last star from the end", () => {
    const src = [{ name: "x", sources: ["t.x"] }, { name: "*", sources: ["t.*"], star: true as const }, { name: "y", sources: ["t.y"] }];
    expect(alignSources(5, src)).toEqual([["t.x"], null, null, null, ["t.y"]]);
  });
});

describe("splitSource", () => {
  it("splits table.column and schema.table.column", () => {
    expect(splitSource("customers.ssn")).toEqual({ table: "customers", column: "ssn" });
    expect(splitSource("public.customers.*")).toEqual({ schema: "public", table: "customers", column: "*" });
    expect(splitSource("unknown")).toBeNull();
  });
});

describe("maskRow", () => {
  it("masks whole columns by plan, runs detectors everywhere, withholds binary values", () => {
    const ssnPlan = masker.columnPlan({ table: "customers", column: "ssn" })!;
    const plans = [
      { plans: [ssnPlan], binary: false, label: "ssn" },
      { plans: [], binary: false, label: "note" },
      { plans: [], binary: true, label: "bin" },
      { plans: [], binary: false, label: "plain" },
    ];
    const out = maskRow([Buffer.from("123-45-6789"), Buffer.from("mail ada@example.com"), Buffer.from([1, 2]), Buffer.from("ok")], plans, masker)!;
    expect(out.masked).toBe(3);
    expect(out.values[0]!.toString()).not.toContain("6789");
    expect(out.values[1]!.toString()).not.toContain("ada@example.com");
    expect(out.values[2]).toBeNull();
    expect(out.values[3]!.toString()).toBe("ok");
  });
  it("returns null when nothing changed (the raw frame is forwarded)", () => {
    expect(maskRow([Buffer.from("hello"), null], [{ plans: [], binary: false, label: "a" }, { plans: [], binary: false, label: "b" }], masker)).toBeNull();
  });
});

describe("maskServerFields", () => {
  it("masks message, detail and hint with detectors when the request's text is not known", () => {
    const f = maskServerFields({ severity: "ERROR", code: "23505", message: "dup ada@example.com", detail: "Key (email)=(ada@example.com)" }, masker, null);
    expect(JSON.stringify(f)).not.toContain("ada@example.com");
    expect(f.code).toBe("23505");
  });

  it("keeps only what the client wrote: quoted spans, numbers; withholds detail, CONTEXT and code-made messages", () => {
    const sql = "select password_hash::int, 'x y'::date from nosuch where id = 42";
    const m = (message: string, extra: Partial<ErrorFields> = {}) => maskServerFields({ severity: "ERROR", code: "22P02", message, ...extra }, masker, sql);
    expect(m('invalid input syntax for type integer: "pbkdf2$Zq9xK7mWvT"').message).toBe('invalid input syntax for type integer: "[REDACTED]"');
    expect(m('relation "nosuch" does not exist').message).toBe('relation "nosuch" does not exist');
    expect(m('invalid input syntax for type date: "x y"').message).toBe('invalid input syntax for type date: "x y"');
    // a value holding quotes cannot shift the pairing into leaking its tail
    expect(m('invalid input syntax for type integer: "a"secret"').message).toBe('invalid input syntax for type integer: "[REDACTED]"');
    expect(m('invalid value "nosuch" for "secret" and "x y"').message).toBe('invalid value "nosuch" for "[REDACTED]"');
    // ... nor spans the client wrote around it (empty ones, or its own 'x"'): the text between two
    // spans must be what PostgreSQL writes there
    expect(m('invalid input syntax for type integer: ""pbkdf2$Zq9xK7mWvT""').message).toBe('invalid input syntax for type integer: "[REDACTED]"');
    expect(m('invalid input syntax for type integer: "x"pbkdf2$Zq9xK7mWvT"x"').message).toBe('invalid input syntax for type integer: "[REDACTED]"');
    expect(m('column "id" of relation "nosuch" does not exist').message).toBe('column "id" of relation "nosuch" does not exist');
    expect(m('invalid input syntax for type integer: ""').message).toBe('invalid input syntax for type integer: ""');
    expect(m("requested character too large for encoding: 1114112, id 42").message).toBe("requested character too large for encoding: [REDACTED], id 42");
    expect(m("invalid byte sequence for encoding \"UTF8\": 0x9f").message).toBe('invalid byte sequence for encoding "[REDACTED]": [REDACTED]');
    const dup = m("duplicate key value violates unique constraint", { detail: "Key (login)=(pbkdf2$Zq9xK7mWvT) already exists.", where: "x", internalQuery: "q" });
    expect(dup.detail).toBeUndefined();
    expect(dup.internalQuery).toBeUndefined();
    expect(dup.message).toBe("[REDACTED]"); // raised with a CONTEXT: code-made text
    expect(m("oops", { where: "PL/pgSQL function f() line 3 at RAISE", hint: "pbkdf2$Zq9xK7mWvT" })).toMatchObject({ message: "[REDACTED]", hint: "[REDACTED]" });
  });
});

describe("ExtendedState.plan", () => {
  it("classifies Executes with their Bind parameters and commits only when told", () => {
    const st = new ExtendedState();
    const plan = st.plan([
      { type: "Parse", name: "s1", text: "delete from items where id = $1", paramTypes: [] },
      { type: "Bind", portal: "", statement: "s1", paramFormats: [], params: [Buffer.from("7")], resultFormats: [] },
      { type: "Execute", portal: "", maxRows: 0 },
      { type: "Sync" },
    ]);
    expect(plan.request).toMatchObject({ kind: "write", action: "write", tables: ["items"], text: "delete from items where id = $1", params: ["7"] });
    expect(plan.ops.map((o) => o.t)).toEqual(["parse", "bind", "execute", "sync"]);
    expect(st.statements.has("s1")).toBe(false); // not committed: a denied Parse defines nothing
    plan.commit();
    // nor one the upstream has not confirmed (it may refuse it: s1 exists, or an error before it)
    expect(st.statements.has("s1")).toBe(false);
    const parse = plan.ops[0];
    if (parse.t !== "parse") throw new Error("expected the Parse op");
    parse.defines.apply(); // the relay does this on ParseComplete
    expect(st.statements.has("s1")).toBe(true);
    expect(st.prepared.get("s1")?.kind).toBe("write");
  });
  it("combines several Executes before one Sync (the riskiest kind wins) and fails closed on unknown portals", () => {
    const st = new ExtendedState();
    const plan = st.plan([
      { type: "Parse", name: "", text: "select 1", paramTypes: [] },
      { type: "Bind", portal: "", statement: "", paramFormats: [], params: [], resultFormats: [1] },
      { type: "Execute", portal: "", maxRows: 0 },
      { type: "Execute", portal: "nope", maxRows: 0 },
      { type: "Sync" },
    ]);
    expect(plan.request?.kind).toBe("unknown");
    expect(plan.binaryBinds.map((b) => b.index)).toEqual([1]);
    expect(plan.runsBinaryPortal).toBe(false);
  });
  it("needs no decision for Parse/Describe-only batches", () => {
    const plan = new ExtendedState().plan([{ type: "Parse", name: "a", text: "select 1", paramTypes: [] }, { type: "Describe", target: "S", name: "a" }, { type: "Sync" }]);
    expect(plan.request).toBeNull();
    expect(plan.parsed).toEqual(["select 1"]);
  });
});

describe("decodeParams / fieldsOfPortal", () => {
  it("keeps text params, hex-encodes binary ones", () => {
    expect(decodeParams({ type: "Bind", portal: "", statement: "", paramFormats: [0, 1], params: [Buffer.from("a"), Buffer.from([255]), ], resultFormats: [] })).toEqual(["a", "\\xff"]);
  });
  it("never renders a text param like a binary one: a leading backslash is doubled", () => {
    const bind = (paramFormats: number[], params: Buffer[]) => decodeParams({ type: "Bind", portal: "", statement: "", paramFormats, params, resultFormats: [] });
    expect(bind([0], [Buffer.from("\\x5a5a")])).toEqual(["\\\\x5a5a"]);
    expect(bind([1], [Buffer.from("ZZ")])).toEqual(["\\x5a5a"]);
    expect(bind([0], [Buffer.from("\\\\x5a5a")])).toEqual(["\\\\\\x5a5a"]);
    expect(bind([0], [Buffer.from("a\\b")])).toEqual(["a\\b"]);
  });
  it("applies Bind result formats to a statement's cached description", () => {
    const field = { name: "a", tableOid: 1, columnAttr: 1, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 };
    const stmt = { name: "s", text: "select a from t", classification: { kind: "read" as const, statements: [], tables: [], functions: [] }, paramTypes: [], fields: [field] };
    expect(fieldsOfPortal({ name: "", statement: stmt, params: [], resultFormats: [1], fields: null })![0].format).toBe(1);
    expect(fieldsOfPortal(null)).toBeNull();
  });
});

describe("CancelRegistry", () => {
  it("cancels only with the exact key and forgets released sessions", () => {
    const reg = new CancelRegistry();
    let n = 0;
    const key = reg.issue({ cancel: () => n++ });
    expect(reg.cancel(key.pid, Buffer.from([0, 0, 0, 0]))).toBe(false);
    expect(reg.cancel(key.pid, key.secretKey)).toBe(true);
    reg.release(key.pid);
    expect(reg.cancel(key.pid, key.secretKey)).toBe(false);
    expect(n).toBe(1);
  });
});

describe("notifierPid", () => {
  it("shows the client its own notifications under its BackendKeyData pid, and no other backend under that pid", () => {
    const upstream = 4242;
    const client = 777;
    expect(notifierPid(upstream, upstream, client)).toBe(client); // its own
    expect(notifierPid(client, upstream, client)).toBe(upstream); // another backend that has the client's pid: not taken for its own
    expect(notifierPid(9999, upstream, client)).toBe(9999);
    const senders = [upstream, client, 1, 9999];
    expect(new Set(senders.map((p) => notifierPid(p, upstream, client))).size).toBe(senders.length); // a bijection
    expect(notifierPid(upstream, undefined, client)).toBe(upstream);
  });
});

describe("sampleLimitsOf", () => {
  it("reads sampleRows/sampleBytes from connection options with caps", () => {
    expect(sampleLimitsOf({})).toEqual({ rows: 100, bytes: 65536 });
    expect(sampleLimitsOf({ sampleRows: 5, sampleBytes: 10 ** 9 })).toEqual({ rows: 5, bytes: 4 * 1024 * 1024 });
  });
});

describe("ExtendedState cursors", () => {
  const run = (st: ExtendedState, text: string) => {
    const c = st.classify(text);
    for (const p of st.applySqlNamespaceChanges(c, text)) p.apply();
    return c.statements[0]!;
  };

  it("a FETCH returns its cursor's DECLAREd columns; the most recent 1024 cursors are kept, a forgotten one is opaque", () => {
    const st = new ExtendedState();
    run(st, "declare c0 cursor for select reverse(password_hash) from accounts");
    expect(st.resultText(run(st, "fetch 1 from c0"))).toMatch(/^declare c0 cursor for select reverse/);
    // a driver naming a cursor per query does not grow the map for as long as the connection lives
    for (let i = 1; i <= 1024; i++) run(st, `declare c${i} cursor for select ${i}`);
    expect(st.cursors.size).toBe(1024);
    expect(st.cursors.has("c0")).toBe(false);
    expect(st.resultText(run(st, "fetch 1 from c0"))).toBeNull(); // forgotten: its lineage is not knowable
    expect(st.resultText(run(st, "fetch 1 from c1024"))).toBe("declare c1024 cursor for select 1024");
  });
});
