import { describe, expect, it } from "vitest";
import { GatehouseError } from "@/lib/gateway/core/types";
import { compileMasker } from "./masker";
import type { ColumnRef, MaskingRule } from "./types";

const rule = (over: Partial<MaskingRule> & Pick<MaskingRule, "id">): MaskingRule => ({ name: over.id, enabled: true, detectors: [], columns: [], style: "redact", ...over });
const col = (table: string, column: string): ColumnRef => ({ connection: "prod", schema: "public", table, column });
const KEY = "test-hash-key";

describe("compileMasker: free text", () => {
  const masker = compileMasker([rule({ id: "pii", detectors: ["email", "card", "ssn"] })], { hashKey: KEY });

  it("masks detector matches anywhere and keeps the rest byte for byte", () => {
    expect(masker.maskText("mail alice@example.com, card 4111 1111 1111 1111; ssn 123-45-6789!")).toBe(
      "mail [REDACTED:email], card [REDACTED:card]; ssn [REDACTED:ssn]!",
    );
  });

  it("returns the very same string when nothing matches", () => {
    const text = "nothing to see, order 42 shipped";
    expect(masker.maskText(text)).toBe(text);
  });

  it("does not mask Luhn failures or detectors no rule enabled", () => {
    expect(masker.maskText("4111 1111 1111 1112 from 10.0.0.1")).toBe("4111 1111 1111 1112 from 10.0.0.1");
  });

  it("is inactive without enabled rules for the channel", () => {
    expect(compileMasker([], { hashKey: KEY }).active).toBe(false);
    expect(compileMasker([rule({ id: "x", detectors: ["email"], enabled: false })], { hashKey: KEY }).active).toBe(false);
    const sqlOnly = [rule({ id: "x", detectors: ["email"], appliesTo: ["sql"] })];
    expect(compileMasker(sqlOnly, { hashKey: KEY, channel: "terminal" }).active).toBe(false);
    expect(compileMasker(sqlOnly, { hashKey: KEY, channel: "terminal" }).maskText("a@example.com")).toBe("a@example.com");
    expect(compileMasker(sqlOnly, { hashKey: KEY, channel: "sql" }).maskText("a@example.com")).toBe("[REDACTED:email]");
    expect(compileMasker(sqlOnly, { hashKey: KEY }).active).toBe(true);
  });
});

describe("compileMasker: styles on detector matches", () => {
  const text = "card 4111-1111-1111-1111 for bob@example.com";

  it("partial keeps the last N characters of each match", () => {
    const m = compileMasker([rule({ id: "p", detectors: ["card"], style: "partial" }), rule({ id: "e", detectors: ["email"], style: "partial", keepLast: 3 })], { hashKey: KEY });
    expect(m.maskText(text)).toBe("card ****-****-****-1111 for ***@*******.com");
  });

  it("hash gives equal tokens for equal values and differs by key", () => {
    const a = compileMasker([rule({ id: "h", detectors: ["email"], style: "hash" })], { hashKey: KEY });
    const b = compileMasker([rule({ id: "h", detectors: ["email"], style: "hash" })], { hashKey: "another-key" });
    const once = a.maskText("bob@example.com");
    expect(once).toMatch(/^h_[0-9a-f]{12}$/);
    expect(a.maskText("to bob@example.com and bob@example.com")).toBe(`to ${once} and ${once}`);
    expect(b.maskText("bob@example.com")).not.toBe(once);
    expect(a.maskText("carol@example.com")).not.toBe(once);
  });

  it("null degrades to the redact marker inside text", () => {
    const m = compileMasker([rule({ id: "n", detectors: ["email"], style: "null" })], { hashKey: KEY });
    expect(m.maskText("x bob@example.com")).toBe("x [REDACTED:email]");
  });
});

describe("compileMasker: columns", () => {
  const rules = [
    rule({ id: "ssn-col", columns: ["customers.ssn"], style: "null" }),
    rule({ id: "card-col", columns: ["*.card_number"], style: "partial" }),
    rule({ id: "email-hash", columns: ["customers.email"], style: "hash" }),
    rule({ id: "notes-emails", columns: ["customers.notes"], detectors: ["email"], style: "partial", keepLast: 0 }),
    rule({ id: "everywhere", detectors: ["email", "ssn"] }),
  ];
  const m = compileMasker(rules, { hashKey: KEY, channel: "sql" });

  it("masks whole values of columns-only rules in each style", () => {
    expect(m.maskValue("123-45-6789", m.columnPlan(col("customers", "ssn")))).toBeNull();
    expect(m.maskValue("4111111111111111", m.columnPlan(col("payments", "card_number")))).toBe("************1111");
    // A hashed column value and the same value hashed inside text give the same token (joins).
    const hashed = m.maskValue("bob@example.com", m.columnPlan(col("customers", "email")));
    expect(hashed).toMatch(/^h_[0-9a-f]{12}$/);
    expect(hashed).toBe(compileMasker([rule({ id: "h", detectors: ["email"], style: "hash" })], { hashKey: KEY }).maskText("bob@example.com"));
    const redactAll = compileMasker([rule({ id: "r", columns: ["t.c"] })], { hashKey: KEY });
    expect(redactAll.maskValue("anything at all", redactAll.columnPlan({ table: "t", column: "c" }))).toBe("[REDACTED]");
  });

  it("masks whole values even when no detector would match them", () => {
    expect(m.maskValue("not-an-ssn", m.columnPlan(col("customers", "ssn")))).toBeNull();
    expect(m.maskValue("", m.columnPlan(col("customers", "ssn")))).toBeNull();
  });

  it("applies a columns+detectors rule only to matches inside its columns, ahead of global rules", () => {
    const notes = m.columnPlan(col("customers", "notes"));
    expect(notes?.masksWholeValue).toBe(false);
    expect(m.maskValue("ask bob@example.com about 123-45-6789", notes)).toBe("ask ***@*******.*** about [REDACTED:ssn]");
    const other = m.columnPlan(col("orders", "notes"));
    expect(m.maskValue("ask bob@example.com", other)).toBe("ask [REDACTED:email]");
  });

  it("says which column rules apply and whether what they show tells anything of the value (the store check)", () => {
    const fields = (c: ReturnType<typeof col>) => {
      const p = m.columnPlan(c)!;
      return { rules: p.columnRules, hides: p.hidesWholeValue };
    };
    expect(fields(col("customers", "ssn"))).toEqual({ rules: ["ssn-col"], hides: true });
    expect(fields(col("customers", "email"))).toEqual({ rules: ["email-hash"], hides: true });
    expect(fields(col("payments", "card_number"))).toEqual({ rules: ["card-col"], hides: false }); // partial keeps the last digits
    expect(fields(col("customers", "notes"))).toEqual({ rules: ["notes-emails"], hides: false });
    expect(fields(col("orders", "total"))).toEqual({ rules: [], hides: false }); // text-wide detectors only
  });

  it("returns a plan with detectors for unrelated columns, and null only when nothing can apply", () => {
    const plain = m.columnPlan(col("orders", "total"));
    expect(plain).not.toBeNull();
    expect(m.maskValue("42.00", plain)).toBe("42.00");
    const columnsOnly = compileMasker([rule({ id: "c", columns: ["customers.ssn"] })], { hashKey: KEY });
    expect(columnsOnly.columnPlan(col("orders", "total"))).toBeNull();
    expect(columnsOnly.maskValue("123-45-6789", null)).toBe("123-45-6789");
  });

  it("lets a columns-only rule win over an earlier detector rule on the same column", () => {
    const m2 = compileMasker([rule({ id: "d", columns: ["t.c"], detectors: ["email"] }), rule({ id: "w", columns: ["t.c"], style: "null" })], { hashKey: KEY });
    expect(m2.maskValue("a@example.com", m2.columnPlan({ table: "t", column: "c" }))).toBeNull();
  });

  it("uses detectors without a plan (no column information)", () => {
    expect(m.maskValue("bob@example.com")).toBe("[REDACTED:email]");
  });
});

describe("compileMasker: custom regexes and dictionaries", () => {
  const m = compileMasker(
    [rule({ id: "emp", regexes: ["EMP-\\d{6}"], style: "partial", keepLast: 2 }), rule({ id: "codenames", dictionary: ["Project Apollo", "Zeus"] }), rule({ id: "email", detectors: ["email"] })],
    { hashKey: KEY },
  );

  it("masks regex and dictionary matches alongside built-in detectors", () => {
    expect(m.maskText("EMP-123456 on project apollo wrote to zeus@example.com about Zeus")).toBe("***-****56 on [REDACTED:dictionary] wrote to [REDACTED:email] about [REDACTED:dictionary]");
  });

  it("gives built-in matches precedence over overlapping custom ones", () => {
    const m2 = compileMasker([rule({ id: "re", regexes: ["bob@\\w+"] }), rule({ id: "email", detectors: ["email"] })], { hashKey: KEY });
    expect(m2.maskText("bob@example.com")).toBe("[REDACTED:email]");
  });

  it("refuses to compile a rule with a dangerous or broken pattern", () => {
    expect(() => compileMasker([rule({ id: "bad", regexes: ["(a+)+"] })], { hashKey: KEY })).toThrow(GatehouseError);
    expect(() => compileMasker([rule({ id: "bad", columns: ["a.b.c.d"] })], { hashKey: KEY })).toThrow(/masking rule bad/);
    expect(() => compileMasker([rule({ id: "bad", regexes: ["(a+)+"], enabled: false })], { hashKey: KEY })).not.toThrow();
  });
});

describe("compileMasker: counts", () => {
  it("counts masked values and matches per rule and column", () => {
    const m = compileMasker([rule({ id: "ssn-col", columns: ["customers.ssn"] }), rule({ id: "emails", detectors: ["email"] })], { hashKey: KEY });
    const ssn = m.columnPlan(col("customers", "ssn"));
    const notes = m.columnPlan(col("customers", "notes"));
    m.maskValue("123-45-6789", ssn);
    m.maskValue("987-65-4321", ssn);
    m.maskValue("a@example.com and b@example.com", notes);
    m.maskValue("no email", notes);
    m.maskText("c@example.com");
    m.maskValue("d@example.com");
    const sorted = m.counts().sort((a, b) => a.column.localeCompare(b.column));
    expect(sorted).toEqual([
      { ruleId: "emails", column: "*", values: 2, matches: 2 },
      { ruleId: "emails", column: "customers.notes", values: 1, matches: 2 },
      { ruleId: "ssn-col", column: "customers.ssn", values: 2, matches: 2 },
    ]);
    m.resetCounts();
    expect(m.counts()).toEqual([]);
  });

  it("shares counters between plans of the same column", () => {
    const m = compileMasker([rule({ id: "c", columns: ["t.c"] })], { hashKey: KEY });
    m.maskValue("x", m.columnPlan({ table: "t", column: "c" }));
    m.maskValue("y", m.columnPlan({ table: "t", column: "c" }));
    expect(m.counts()).toEqual([{ ruleId: "c", column: "t.c", values: 2, matches: 2 }]);
  });
});
