import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { md5Password, ScramClient, ScramError } from "./scram";

// RFC 7677 §3 test vector (user "user", password "pencil").
const RFC = {
  nonce: "rOprNGfwEbeRWgbNEkqO",
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

const rfcClient = () => new ScramClient({ username: "user", password: "pencil", nonce: RFC.nonce });

async function throughFinal(c: ScramClient, serverFirst = RFC.serverFirst): Promise<Buffer> {
  c.clientFirst();
  return c.clientFinal(Buffer.from(serverFirst));
}

describe("SCRAM-SHA-256 client", () => {
  it("reproduces the RFC 7677 exchange and verifies the server", async () => {
    const c = rfcClient();
    expect(c.mechanism).toBe("SCRAM-SHA-256");
    expect(c.clientFirst().toString()).toBe(RFC.clientFirst);
    expect((await c.clientFinal(Buffer.from(RFC.serverFirst))).toString()).toBe(RFC.clientFinal);
    expect(c.verified).toBe(false);
    c.verifyServerFinal(Buffer.from(RFC.serverFinal));
    expect(c.verified).toBe(true);
  });

  it("refuses a server whose signature does not verify (an upstream that does not know the verifier)", async () => {
    const c = rfcClient();
    await throughFinal(c);
    const forged = "v=" + Buffer.alloc(32, 1).toString("base64");
    expect(() => c.verifyServerFinal(Buffer.from(forged))).toThrow(/does not verify/);
    expect(c.verified).toBe(false);
  });

  it("refuses a server nonce that does not extend ours", async () => {
    await expect(throughFinal(rfcClient(), "r=somebodyElse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")).rejects.toThrow(/nonce/);
    await expect(throughFinal(rfcClient(), `r=${RFC.nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`)).rejects.toThrow(/nonce/);
  });

  it.each([
    ["a mandatory extension", "m=ext,r=x,s=y,i=1", /extension/],
    ["a missing salt", `r=${RFC.nonce}xyz,i=4096`, /malformed/],
    ["a bad iteration count", `r=${RFC.nonce}xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`, /iteration/],
    ["too many iterations (CPU DoS)", `r=${RFC.nonce}xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999`, /above the limit/],
    ["bad base64 salt", `r=${RFC.nonce}xyz,s=!!!,i=4096`, /base64/],
  ])("refuses server-first with %s", async (_, serverFirst, error) => {
    await expect(throughFinal(rfcClient(), serverFirst)).rejects.toThrow(error);
  });

  it("surfaces a server-final error attribute", async () => {
    const c = rfcClient();
    await throughFinal(c);
    expect(() => c.verifyServerFinal(Buffer.from("e=invalid-proof"))).toThrow(/invalid-proof/);
  });

  it("refuses steps out of order", async () => {
    const c = rfcClient();
    await expect(c.clientFinal(Buffer.from(RFC.serverFirst))).rejects.toThrow(ScramError);
    expect(() => rfcClient().verifyServerFinal(Buffer.from(RFC.serverFinal))).toThrow(/out of order/);
  });

  it("uses PostgreSQL's empty user name and escapes = and , in names", () => {
    expect(new ScramClient({ password: "p", nonce: "abc" }).clientFirst().toString()).toBe("n,,n=,r=abc");
    expect(new ScramClient({ password: "p", nonce: "abc", username: "a=b,c" }).clientFirst().toString()).toBe("n,,n=a=3Db=2Cc,r=abc");
  });

  it("binds to the TLS channel with -PLUS, and flags a possible downgrade with 'y'", async () => {
    const cb = { type: "tls-server-end-point" as const, data: Buffer.from("cert-hash") };
    const plus = ScramClient.choose(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"], { password: "pencil", nonce: RFC.nonce, channelBinding: cb });
    expect(plus.mechanism).toBe("SCRAM-SHA-256-PLUS");
    expect(plus.clientFirst().toString()).toBe(`p=tls-server-end-point,,n=,r=${RFC.nonce}`);
    const final = (await plus.clientFinal(Buffer.from(RFC.serverFirst))).toString();
    expect(final.startsWith(`c=${Buffer.concat([Buffer.from("p=tls-server-end-point,,"), cb.data]).toString("base64")},`)).toBe(true);
    const noPlus = ScramClient.choose(["SCRAM-SHA-256"], { password: "pencil", nonce: RFC.nonce, channelBinding: cb });
    expect(noPlus.clientFirst().toString().startsWith("y,,")).toBe(true);
    expect(() => ScramClient.choose(["OAUTHBEARER"], { password: "x" })).toThrow(/no supported SASL mechanism/);
  });

  it("agrees with an independent computation for a non-ASCII password (SASLprep NFKC)", async () => {
    // U+2168 ROMAN NUMERAL NINE normalizes to "IX" under NFKC, as PostgreSQL's pg_saslprep does.
    const c = new ScramClient({ password: "\u2168", nonce: "n1" });
    c.clientFirst();
    const salt = Buffer.from("salt");
    const serverFirst = `r=n1srv,s=${salt.toString("base64")},i=4096`;
    const final = (await c.clientFinal(Buffer.from(serverFirst))).toString();
    const salted = pbkdf2Sync("IX", salt, 4096, 32, "sha256");
    const clientKey = createHmac("sha256", salted).update("Client Key").digest();
    const auth = `n=,r=n1,${serverFirst},c=biws,r=n1srv`;
    const sig = createHmac("sha256", createHash("sha256").update(clientKey).digest()).update(auth).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]));
    expect(final).toBe(`c=biws,r=n1srv,p=${proof.toString("base64")}`);
  });
});

describe("md5 password", () => {
  it('is "md5" + md5(md5(password + user) + salt)', () => {
    // expected value computed independently with Python's hashlib
    expect(md5Password("postgres", "secret", Buffer.from([1, 2, 3, 4]))).toBe("md5bb41a296aab6baccb36ff243a562abff");
  });
});
