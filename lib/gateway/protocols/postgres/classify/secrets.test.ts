import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./parser";
import { withoutSecrets } from "./secrets";

describe("withoutSecrets", () => {
  beforeAll(() => initClassifier());

  it.each([
    ["ALTER ROLE bob WITH ENCRYPTED PASSWORD 'p''w0rd'", "ALTER ROLE bob WITH ENCRYPTED PASSWORD '[REDACTED]'"],
    ["create user carl password E'se\\'cret' valid until 'infinity'", "create user carl password '[REDACTED]' valid until 'infinity'"],
    ["ALTER USER \"böb\" PASSWORD 'SCRAM-SHA-256$4096:abc$def:ghi'; SELECT 'ünïcode'", "ALTER USER \"böb\" PASSWORD '[REDACTED]'; SELECT 'ünïcode'"],
    ["CREATE USER MAPPING FOR x SERVER s OPTIONS (user 'a', \"password\" 'q')", "CREATE USER MAPPING FOR x SERVER s OPTIONS (user 'a', \"password\" '[REDACTED]')"],
    ["alter role x password /* new */ 'z'", "alter role x password /* new */ '[REDACTED]'"],
    ["SELECT dblink_connect('host=h dbname=d password=zz')", "SELECT dblink_connect('[REDACTED]')"],
    ["CREATE SUBSCRIPTION s CONNECTION 'host=h sslpassword = y' PUBLICATION p", "CREATE SUBSCRIPTION s CONNECTION '[REDACTED]' PUBLICATION p"],
  ])("%s", (text, shown) => expect(withoutSecrets(text)).toBe(shown));

  it("leaves statements without credentials alone", () => {
    for (const text of ["SELECT password_hash FROM accounts", "SELECT 'password' AS word", "ALTER ROLE bob PASSWORD NULL", "SELECT 1"]) expect(withoutSecrets(text)).toBe(null);
  });

  it("withholds what it cannot scan but may carry a password", () => {
    expect(withoutSecrets("ALTER ROLE x PASSWORD 'unterminated")).toMatch(/withheld/);
  });
});
