import { describe, expect, it } from "vitest";
import { signInOf } from "./sign-in";

describe("signInOf (how a console cookie says it was signed in)", () => {
  it("reads a password sign-in and a sign-in through a link", () => {
    expect(signInOf({ via: "password" })).toEqual({ via: "password" });
    const link = { issuer: "https://idp.example", subject: "s-1", linkedAt: 1_790_000_000_123 };
    expect(signInOf({ via: "oidc", ...link })).toEqual({ via: "oidc", ...link });
    expect(signInOf({ via: "saml", ...link, extra: "dropped" })).toEqual({ via: "saml", ...link });
  });

  it("refuses a cookie that records none, or a link it cannot check", () => {
    for (const claim of [undefined, null, "password", {}, { via: "token" }, { via: "oidc" }, { via: "oidc", issuer: "i", subject: "s" }, { via: "saml", issuer: "i", subject: 5, linkedAt: 1 }, { via: "oidc", issuer: "i", subject: "s", linkedAt: "1" }]) {
      expect(signInOf(claim), JSON.stringify(claim)).toBeNull();
    }
  });
});
