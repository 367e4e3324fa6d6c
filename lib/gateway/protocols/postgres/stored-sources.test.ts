import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify";
import { storedValuesOf } from "./stored-sources";

beforeAll(() => initClassifier());

describe("storedValuesOf", () => {
  it.each([
    ["UPDATE accounts SET login = upper(password_hash) WHERE id = 1", [{ target: "accounts.login", sources: ["accounts.password_hash"] }]],
    ["UPDATE accounts a SET login = b.password_hash FROM accounts b", [{ target: "accounts.login", sources: ["accounts.password_hash"] }]],
    ["UPDATE accounts SET login = 'x', id = $1", [{ target: "accounts.login", sources: [] }, { target: "accounts.id", sources: [] }]],
    ["INSERT INTO notes (id, body) SELECT id, password_hash FROM accounts", [{ target: "notes.id", sources: ["accounts.id"] }, { target: "notes.body", sources: ["accounts.password_hash"] }]],
    ["INSERT INTO notes SELECT * FROM accounts", [{ target: "notes.*", sources: ["accounts.*"] }]],
    ["INSERT INTO notes VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET body = notes.secret", [{ target: "notes.*", sources: [] }, { target: "notes.body", sources: ["notes.secret"] }]],
    ["MERGE INTO notes n USING accounts a ON n.id = a.id WHEN MATCHED THEN UPDATE SET body = a.password_hash WHEN NOT MATCHED THEN INSERT (id, body) VALUES (a.id, a.password_hash)", [
      { target: "notes.body", sources: ["accounts.password_hash"] },
      { target: "notes.id", sources: ["accounts.id"] },
      { target: "notes.body", sources: ["accounts.password_hash"] },
    ]],
    ["WITH x AS (UPDATE accounts SET login = password_hash RETURNING 1) SELECT 1", [{ target: "accounts.login", sources: ["accounts.password_hash"] }]],
    ["CREATE TEMP TABLE t AS SELECT reverse(password_hash) AS r FROM accounts", [{ target: null, sources: ["accounts.password_hash"] }]],
    ["SELECT password_hash INTO TEMP t FROM accounts", [{ target: null, sources: ["accounts.password_hash"] }]],
    ["SELECT * FROM accounts", []],
    ["DELETE FROM accounts WHERE password_hash = 'x'", []],
    ["SELECT pg_notify('c', 'hello')", []],
    ["ALTER TABLE accounts RENAME COLUMN password_hash TO pw", [{ target: "accounts.pw", sources: ["accounts.password_hash"] }]],
    ["ALTER TABLE public.accounts RENAME TO acc2", [{ target: null, sources: ["public.accounts.*"] }]],
    ["ALTER TABLE accounts SET SCHEMA vault", [{ target: null, sources: ["accounts.*"] }]],
    ["ALTER TABLE accounts ADD COLUMN c text GENERATED ALWAYS AS (upper(password_hash)) STORED", [{ target: "accounts.c", sources: ["accounts.password_hash"] }]],
    ["ALTER TABLE accounts ALTER COLUMN login TYPE text USING password_hash", [{ target: "accounts.login", sources: ["accounts.password_hash"] }]],
    ["ALTER TABLE accounts ADD COLUMN note text DEFAULT 'x'", []],
    ["ALTER TABLE payments DETACH PARTITION payments_low", [{ target: null, sources: ["payments_low.*"] }]],
    ["ALTER TABLE ledger_2019 NO INHERIT ledger", [{ target: null, sources: ["ledger_2019.*"] }]],
    ["ALTER TABLE cards INHERIT par", [{ target: null, sources: ["cards.*"] }]],
    ["ALTER TABLE par ATTACH PARTITION cards FOR VALUES IN (1)", [{ target: null, sources: ["cards.*"] }]],
  ])("%s", (sql, expected) => {
    expect(storedValuesOf(sql)).toEqual(expected);
  });

  it("cannot follow: a computed notification payload, an EXECUTE it does not know, text that does not parse", () => {
    expect(storedValuesOf("SELECT pg_notify('c', password_hash) FROM accounts")).toBe("opaque");
    expect(storedValuesOf("EXECUTE p")).toBe("opaque");
    expect(storedValuesOf("EXECUTE p", () => "UPDATE accounts SET login = password_hash")).toEqual([{ target: "accounts.login", sources: ["accounts.password_hash"] }]);
    // an EXECUTE of what this text PREPAREd before it is that statement; before the PREPARE, the session's
    expect(storedValuesOf("PREPARE p AS UPDATE accounts SET login = password_hash; EXECUTE p")).toEqual([{ target: "accounts.login", sources: ["accounts.password_hash"] }]);
    expect(storedValuesOf("EXECUTE p; PREPARE p AS SELECT 1")).toBe("opaque");
    expect(storedValuesOf("not sql")).toBe("opaque");
    expect(storedValuesOf("CREATE TRIGGER t BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION f()")).toBe("opaque");
    expect(storedValuesOf("CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ begin return new; end $$")).toBe("opaque");
    expect(storedValuesOf("CREATE RULE r AS ON UPDATE TO accounts DO ALSO NOTIFY c")).toBe("opaque");
    expect(storedValuesOf("DO $$ begin perform 1; end $$")).toBe("opaque");
    expect(storedValuesOf("SELECT lo_from_bytea(0, password_hash::bytea) FROM accounts")).toBe("opaque");
    expect(storedValuesOf("SELECT lo_put(42, 0, convert_to(password_hash, 'UTF8')) FROM accounts")).toBe("opaque");
    expect(storedValuesOf("SELECT set_config('application_name', password_hash, false) FROM accounts")).toBe("opaque");
    expect(storedValuesOf("SELECT lo_from_bytea(0, $1), lo_put(42, 0, '\\x00'), set_config('application_name', 'x', false)")).toEqual([]);
  });
});
