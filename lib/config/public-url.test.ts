import { describe, expect, it } from "vitest";
import { checkPublicUrl } from "./public-url";

describe("checkPublicUrl: plain http only on loopback", () => {
  it("accepts https anywhere, and http on loopback", () => {
    expect(checkPublicUrl({ publicUrl: "https://gatehouse.example.com", bind: "0.0.0.0" }, false)).toEqual({});
    expect(checkPublicUrl({ publicUrl: "http://127.0.0.1:3000", bind: "127.0.0.1" }, false)).toEqual({});
    expect(checkPublicUrl({ publicUrl: "http://localhost:3000", bind: "::1" }, false)).toEqual({});
    expect(checkPublicUrl({ publicUrl: "http://[::1]:3000", bind: "localhost" }, false)).toEqual({});
  });

  it("refuses http with a public URL or a listener off loopback, naming the way out", () => {
    const named = checkPublicUrl({ publicUrl: "http://gatehouse.example.com", bind: "127.0.0.1" }, false);
    expect(named.refuse).toMatch(/http:\/\/gatehouse\.example\.com is not on loopback.*plain http.*GATEHOUSE_PUBLIC_URL=https:\/\/.*GATEHOUSE_ALLOW_INSECURE_HTTP=1/);
    // the default public URL (http://127.0.0.1:PORT) with the console listening on every interface
    expect(checkPublicUrl({ publicUrl: "http://127.0.0.1:3000", bind: "0.0.0.0" }, false).refuse).toMatch(/listens on 0\.0\.0\.0/);
    expect(checkPublicUrl({ publicUrl: "http://10.0.0.5:3000", bind: "10.0.0.5" }, false).refuse).toMatch(/not on loopback and the console listens on 10\.0\.0\.5/);
    expect(checkPublicUrl({ publicUrl: "ftp://x", bind: "127.0.0.1" }, false).refuse).toMatch(/must be https/);
    expect(checkPublicUrl({ publicUrl: "not a url", bind: "127.0.0.1" }, false).refuse).toMatch(/not a URL/);
  });

  it("runs anyway when told to, with a warning instead", () => {
    const r = checkPublicUrl({ publicUrl: "http://gatehouse.example.com", bind: "0.0.0.0" }, true);
    expect(r.refuse).toBeUndefined();
    expect(r.warn).toMatch(/^INSECURE: .*GATEHOUSE_ALLOW_INSECURE_HTTP=1/);
  });
});
