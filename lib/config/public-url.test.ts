import { describe, expect, it } from "vitest";
import { checkPublicUrl } from "./public-url";

describe("checkPublicUrl: plain http is safe only on loopback", () => {
  it("says nothing for https anywhere, and for http on loopback", () => {
    expect(checkPublicUrl({ publicUrl: "https://gatehouse.example.com", bind: "0.0.0.0" })).toEqual({});
    expect(checkPublicUrl({ publicUrl: "http://127.0.0.1:3000", bind: "127.0.0.1" })).toEqual({});
    expect(checkPublicUrl({ publicUrl: "http://localhost:3000", bind: "::1" })).toEqual({});
    expect(checkPublicUrl({ publicUrl: "http://[::1]:3000", bind: "localhost" })).toEqual({});
  });

  it("warns about http with a public URL or a listener off loopback, naming the way out", () => {
    const named = checkPublicUrl({ publicUrl: "http://gatehouse.example.com", bind: "127.0.0.1" });
    expect(named.warn).toMatch(/^INSECURE: the public URL http:\/\/gatehouse\.example\.com is not on loopback.*plain http.*GATEHOUSE_PUBLIC_URL=https:\/\//);
    // the default public URL (http://127.0.0.1:PORT) with the console listening on every interface
    expect(checkPublicUrl({ publicUrl: "http://127.0.0.1:3000", bind: "0.0.0.0" }).warn).toMatch(/listens on 0\.0\.0\.0/);
    expect(checkPublicUrl({ publicUrl: "http://10.0.0.5:3000", bind: "10.0.0.5" }).warn).toMatch(/not on loopback and the console listens on 10\.0\.0\.5/);
    expect(checkPublicUrl({ publicUrl: "ftp://x", bind: "127.0.0.1" }).warn).toMatch(/should be https/);
    expect(checkPublicUrl({ publicUrl: "not a url", bind: "127.0.0.1" }).warn).toMatch(/not a URL/);
  });
});
