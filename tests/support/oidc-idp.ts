import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

/**
 * A real OpenID Connect identity provider on loopback, as far as Gatehouse uses one: discovery,
 * JWKS, and the authorization-code flow of a console sign-in. The user "signs in" as whoever the
 * test says (`signInNext`). Tokens are signed with one RS256 key; `sign` makes any token a test
 * needs, valid or not.
 */
export interface OidcIdp {
  issuer: string;
  key: CryptoKey;
  /** the public key as PEM, to configure it without discovery */
  publicPem: string;
  /** every path requested, in order */
  hits: string[];
  /** the claims of the next console sign-in's ID token */
  signInNext(claims: JWTPayload): void;
  sign(claims: JWTPayload, opts?: SignOptions): Promise<string>;
  close(): void;
}

export interface SignOptions {
  kid?: string;
  key?: CryptoKey | Uint8Array;
  alg?: string;
  typ?: string;
  iss?: string;
  aud?: string;
  sub?: string;
  /** seconds since the token was issued; 5 unless told */
  iatAgo?: number;
  /** expiry, in seconds since the epoch; ten minutes from now unless told */
  exp?: number;
}

export async function startOidcIdp(opts: { kid?: string; audience: string; clientId?: string }): Promise<OidcIdp> {
  const kid = opts.kid ?? "k1";
  const pair = await generateKeyPair("RS256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, alg: "RS256", use: "sig" };
  const hits: string[] = [];
  const codes = new Map<string, JWTPayload>();
  let nextClaims: JWTPayload = {};
  let issuer = "";

  const sign = (claims: JWTPayload, o: SignOptions = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: o.alg ?? "RS256", kid: o.kid ?? kid, ...(o.typ ? { typ: o.typ } : {}) })
      .setIssuer(o.iss ?? issuer)
      .setAudience(o.aud ?? opts.audience)
      .setSubject(o.sub ?? String(claims.sub ?? "idp-user-42"))
      .setIssuedAt(now - (o.iatAgo ?? 5))
      .setExpirationTime(o.exp ?? now + 600)
      .sign(o.key ?? pair.privateKey);
  };

  const server = http.createServer(async (req, res) => {
    hits.push(req.url ?? "");
    const url = new URL(req.url ?? "/", issuer);
    const json = (o: unknown, status = 200) => {
      res.statusCode = status;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(o));
    };
    if (url.pathname === "/.well-known/openid-configuration") {
      return json({ issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/keys`, response_types_supported: ["code"], subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["RS256"] });
    }
    if (url.pathname === "/keys") return json({ keys: [jwk] });
    if (url.pathname === "/authorize") {
      const code = `code-${codes.size + 1}`;
      codes.set(code, nextClaims);
      res.statusCode = 302;
      res.setHeader("location", `${url.searchParams.get("redirect_uri")}?code=${code}&state=${encodeURIComponent(url.searchParams.get("state") ?? "")}`);
      return res.end();
    }
    if (url.pathname === "/token") {
      let body = "";
      for await (const chunk of req) body += chunk;
      const claims = codes.get(new URLSearchParams(body).get("code") ?? "");
      if (!claims) return json({ error: "invalid_grant" }, 400);
      const idToken = await sign(claims, { aud: opts.clientId ?? opts.audience, iatAgo: 0, exp: Math.floor(Date.now() / 1000) + 300 });
      return json({ access_token: `at-${Date.now()}`, token_type: "Bearer", expires_in: 300, id_token: idToken });
    }
    json({}, 404);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    key: pair.privateKey,
    publicPem: await exportSPKI(pair.publicKey),
    hits,
    signInNext: (claims) => void (nextClaims = claims),
    sign,
    close: () => void server.close(),
  };
}
