import { beforeAll, describe, expect, it } from "vitest";
import { compileMasker } from "@/lib/gateway/masking/masker";
import type { MaskingRule } from "@/lib/gateway/masking/types";
import { initClassifier } from "./classify";
import { copyFormatOf, maskCopyText, splitCopyRow } from "./copy-rows";
import type { FieldPlan } from "./masking";

const rule: MaskingRule = { id: "pw", name: "pw", enabled: true, detectors: [], columns: ["accounts.password_hash"], style: "redact" };
const masker = compileMasker([rule], { hashKey: "k" });
const pw = masker.columnPlan({ table: "accounts", column: "password_hash" })!;
const plans: FieldPlan[] = [
  { plans: [], binary: false, label: "id" },
  { plans: [pw], binary: false, label: "password_hash" },
  { plans: [], binary: false, label: "login" },
];

beforeAll(() => initClassifier());

describe("copyFormatOf", () => {
  it("reads the row format a COPY asks for, and refuses what it cannot read", () => {
    expect(copyFormatOf("copy t to stdout")).toMatchObject({ csv: false, delimiter: "\t", null: "\\N" });
    expect(copyFormatOf("copy t to stdout with (format csv, header, delimiter ';', null '')")).toMatchObject({ csv: true, delimiter: ";", quote: '"', escape: '"', header: true, null: "" });
    expect(copyFormatOf("copy t to stdout csv header delimiter '|' quote '''' escape '\\'")).toMatchObject({ csv: true, delimiter: "|", quote: "'", escape: "\\", header: true });
    expect(copyFormatOf("copy t to stdout with (header false, delimiter '|')")).toMatchObject({ header: false, delimiter: "|" });
    expect(copyFormatOf("copy t to stdout with (format binary)")).toBeNull();
    expect(copyFormatOf("copy t to stdout with (encoding 'latin1')")).toBeNull();
    expect(copyFormatOf("not sql")).toBeNull();
  });
});

describe("maskCopyText", () => {
  it("masks the masked column of CSV rows, quoted or not, whatever the delimiter", () => {
    const csv = copyFormatOf("copy (select 1) to stdout csv")!;
    expect(maskCopyText('1,pbkdf2$Zq9xK7mWvT,user1', plans, masker, csv)).toBe('1,"[REDACTED]",user1');
    expect(maskCopyText('1,"pbk,df2""$Zq9",user1', plans, masker, csv)).toBe('1,"[REDACTED]",user1');
    expect(maskCopyText('1,,user1', plans, masker, csv)).toBe("1,,user1");
    const semi = copyFormatOf("copy (select 1) to stdout (format csv, delimiter ';', quote '''')")!;
    expect(maskCopyText("1;'a;b';'x''y'", plans, masker, semi)).toBe("1;'[REDACTED]';'x''y'");
  });

  it("splits text rows at a chosen delimiter, not at an escaped one", () => {
    const bar = copyFormatOf("copy (select 1) to stdout (delimiter '|')")!;
    expect(splitCopyRow("1|a\\|b|c", bar)).toEqual(["1", "a\\|b", "c"]);
    expect(maskCopyText("1|pbkdf2\\|x|user1", plans, masker, bar)).toBe("1|[REDACTED]|user1");
    expect(maskCopyText("1\tpbkdf2\tuser1", plans, masker, copyFormatOf("copy t to stdout")!)).toBe("1\t[REDACTED]\tuser1");
  });

  it("a row that does not split into the COPY's columns is masked whole", () => {
    const csv = copyFormatOf("copy (select 1) to stdout csv")!;
    expect(maskCopyText('1,"unterminated,user1', plans, masker, csv)).toBe("[REDACTED]");
    expect(maskCopyText("1,pbkdf2", plans, masker, csv)).toBe("[REDACTED]");
  });
});
