import type { AuthOptions } from "next-auth";
import CredentialsProviderImport from "next-auth/providers/credentials";
import { getDb } from "@/db/client";
import { getUserForSession } from "@/db/queries/users";
import { loadConfig } from "@/lib/config/env";
import { redeemLoginCode } from "@/lib/identity/login-code";
import { readCookie, samlCookieNames } from "@/lib/identity/saml-cookies";
import { syncOidcUser } from "@/lib/services/users/oidc-sync";
import { endConsoleSessions } from "@/lib/services/users/sign-out";
import { consoleLogin } from "@/lib/services/tokens/login";
import { clientAddressOf } from "@/lib/http/client-address";
import { sessionCookie, sessionSecret } from "./cookie";
import type { SignIn } from "./sign-in";

// next-auth ships CommonJS: loaded by Node itself (dist/server.mjs, or server.ts under tsx) the
// default import is the module object.
const CredentialsProvider = ((CredentialsProviderImport as unknown as { default?: typeof CredentialsProviderImport }).default ?? CredentialsProviderImport);

/**
 * Console login. Local accounts through the credentials provider (throttled in checkPassword),
 * one OIDC provider when GATEHOUSE_OIDC_ISSUER and a client id are set, and SAML when
 * GATEHOUSE_SAML_* is set (the ACS issues a login code that the "saml" provider redeems). Sessions are JWT cookies that carry
 * only the user id, session version and how it was signed in (password, or which identity link:
 * lib/auth/sign-in.ts); every request re-reads the user (lib/auth/session.ts),
 * so disabling a user or changing their role ends their console sessions at once; signing out
 * bumps the session version too (lib/services/users/sign-out.ts).
 */
export function authOptions(): AuthOptions {
  const cfg = loadConfig();
  const cookie = sessionCookie();
  const providers: AuthOptions["providers"] = [
    CredentialsProvider({
      id: "credentials",
      name: "Email and password",
      credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
      async authorize(credentials, req) {
        if (!credentials?.email || !credentials.password) return null;
        const db = await getDb();
        const address = clientAddressOf(req?.headers as Record<string, string | string[] | undefined> | undefined);
        try {
          const user = await consoleLogin(db, credentials.email, credentials.password, address);
          return { id: user.id, email: user.email, sv: user.sessionVersion, signIn: { via: "password" } } as never;
        } catch (err) {
          // RATE_LIMITED surfaces as its own error code on the login page.
          if ((err as { code?: string }).code === "RATE_LIMITED") throw new Error("RATE_LIMITED");
          return null;
        }
      },
    }),
  ];
  if (cfg.saml) {
    providers.push(
      CredentialsProvider({
        id: "saml",
        name: cfg.saml.name,
        credentials: {},
        // Both cookies are HttpOnly and reach us only on this same-origin POST; the code is
        // single-use and bound to the request id, so it works only in the browser that began the login.
        async authorize(_credentials, req) {
          const cookieHeader = (req?.headers as Record<string, string | undefined> | undefined)?.cookie;
          const names = samlCookieNames();
          const db = await getDb();
          const redeemed = await redeemLoginCode(db, readCookie(cookieHeader, names.code) ?? "", readCookie(cookieHeader, names.request) ?? "");
          if (!redeemed) return null;
          const user = await getUserForSession(db, redeemed.userId);
          if (!user || user.disabled) return null;
          return { id: user.id, email: user.email, sv: user.sessionVersion, signIn: redeemed.signIn } as never;
        },
      }),
    );
  }
  if (cfg.oidc?.clientId) {
    providers.push({
      id: "oidc",
      name: cfg.oidc.name,
      type: "oauth",
      wellKnown: `${cfg.oidc.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`,
      clientId: cfg.oidc.clientId,
      clientSecret: cfg.oidc.clientSecret,
      authorization: { params: { scope: "openid email profile" } },
      idToken: true,
      checks: ["pkce", "state"],
      profile(profile: Record<string, unknown>) {
        // sub, email_verified and iat go on to the mapping: accounts are pinned to the subject.
        return { id: String(profile.sub), email: String(profile.email ?? ""), name: String(profile.name ?? ""), groups: profile[cfg.oidc!.groupsClaim], emailVerified: profile.email_verified, iat: profile.iat } as never;
      },
    });
  }
  return {
    providers,
    secret: sessionSecret(),
    session: { strategy: "jwt", maxAge: 12 * 3600 },
    pages: { signIn: "/login", error: "/login" },
    useSecureCookies: cookie.secure,
    cookies: { sessionToken: { name: cookie.name, options: { httpOnly: true, sameSite: "lax", path: "/", secure: cookie.secure } } },
    events: {
      // Clearing the cookie is not enough: a copy of it would stay valid until it expires.
      async signOut({ token }) {
        await endConsoleSessions(await getDb(), token as { uid?: unknown; sv?: unknown } | null);
      },
    },
    callbacks: {
      async signIn({ user, account }) {
        if (account?.provider !== "oidc") return true;
        const db = await getDb();
        const claims = user as { id: string; groups?: unknown; emailVerified?: unknown; iat?: unknown };
        const synced = await syncOidcUser(db, {
          issuer: cfg.oidc!.issuer,
          sub: claims.id,
          email: user.email ?? "",
          emailVerified: claims.emailVerified,
          iat: claims.iat,
          name: user.name ?? "",
          groups: claims.groups,
          trustUnverifiedEmail: cfg.oidc!.trustUnverifiedEmail,
        });
        if (!synced) return false;
        (user as { id: string; sv?: number }).id = synced.id;
        (user as { sv?: number }).sv = synced.sessionVersion;
        (user as { signIn?: SignIn }).signIn = synced.signIn;
        return true;
      },
      async jwt({ token, user }) {
        if (user) {
          token.uid = user.id;
          token.sv = (user as { sv?: number }).sv ?? 1;
          // How it was signed in (lib/auth/sign-in.ts): a cookie without it is refused.
          token.si = (user as { signIn?: SignIn }).signIn;
        }
        return token;
      },
      async session({ session, token }) {
        (session as { uid?: unknown }).uid = token.uid;
        return session;
      },
      // Only same-origin relative redirects after login: no open redirect.
      async redirect({ url, baseUrl }) {
        if (url.startsWith("/") && !url.startsWith("//")) return `${baseUrl}${url}`;
        try {
          if (new URL(url).origin === baseUrl) return url;
        } catch {
          /* fall through */
        }
        return baseUrl;
      },
    },
  };
}
