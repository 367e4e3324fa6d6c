import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { inflateRawSync } from "node:zlib";
import { chromium } from "playwright-core";
import { SignedXml } from "xml-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { CookieBrowser } from "../support/cookie-jar";

const SP_ENTITY = "https://gatehouse.example.test/sp";
const IDP_ENTITY = "https://idp.example.test";

/**
 * SAML console login against a real Gatehouse process. The test plays the IdP: it reads the
 * AuthnRequest Gatehouse redirects to, builds the Response a real IdP would send, signs it with
 * xml-crypto under a key+certificate made by openssl, POSTs it to the ACS like the browser's
 * auto-submitted form, and finishes the sign-in exactly as the login page does (next-auth "saml"
 * provider). Tampered, misaddressed, expired, unsolicited, replayed and cross-browser responses
 * must all fail to produce a session. One run goes through real Chromium end to end, with the IdP
 * on another site (localhost vs 127.0.0.1) so the cross-site POST to the ACS is real.
 */
describe("SAML console login", () => {
  let gh: GatehouseProcess;
  let admin: string;
  let dir: string;
  let idpKey: string;
  let idpCert: string;
  let otherKey: string;
  let acs: string;
  let idp: http.Server;
  let ENTRY_POINT: string;

  function openssl(name: string) {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "1", "-subj", `/CN=${name}`, "-keyout", path.join(dir, `${name}.key`), "-out", path.join(dir, `${name}.crt`)], { stdio: "ignore" });
    return { key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"), cert: fs.readFileSync(path.join(dir, `${name}.crt`), "utf8") };
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-saml-"));
    ({ key: idpKey, cert: idpCert } = openssl("idp"));
    ({ key: otherKey } = openssl("attacker"));
    // The IdP's SSO endpoint, for the browser run: it "authenticates" at once and answers with the
    // auto-submitting HTTP-POST form every SAML IdP sends.
    idp = http.createServer((req, res) => {
      const url = new URL(req.url!, "http://localhost");
      const request = inflateRawSync(Buffer.from(url.searchParams.get("SAMLRequest") ?? "", "base64")).toString();
      const requestId = /\bID="([^"]+)"/.exec(request)?.[1];
      const xml = sign(responseXml({ requestId, email: "browser.user@example.test" }));
      res.setHeader("content-type", "text/html");
      res.end(
        `<form method="post" action="${acs}"><input type="hidden" name="SAMLResponse" value="${Buffer.from(xml).toString("base64")}">` +
          `<input type="hidden" name="RelayState" value="${url.searchParams.get("RelayState") ?? ""}"></form><script>document.forms[0].submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    ENTRY_POINT = `http://localhost:${(idp.address() as AddressInfo).port}/sso/saml`;
    gh = await startGatehouse({
      demo: false,
      env: {
        GATEHOUSE_SAML_ENTRY_POINT: ENTRY_POINT,
        GATEHOUSE_SAML_ISSUER: SP_ENTITY,
        // a path to the PEM file, as an operator would configure it
        GATEHOUSE_SAML_IDP_CERT: path.join(dir, "idp.crt"),
        GATEHOUSE_SAML_IDP_ISSUER: IDP_ENTITY,
        GATEHOUSE_SAML_NAME: "Acme IdP",
        GATEHOUSE_SAML_GROUPS_ATTRIBUTE: "memberOf",
      },
    });
    acs = `${gh.url}/api/auth/saml/acs`;
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
  });
  afterAll(async () => {
    await teardown(gh);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    idp?.close();
  });

  /** Clicks "Sign in with …": returns the AuthnRequest id the IdP would answer. */
  async function startLogin(browser: CookieBrowser, callbackUrl = "/connections") {
    const res = await browser.fetch(`${gh.url}/api/auth/saml/login?callbackUrl=${encodeURIComponent(callbackUrl)}`);
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get("location")!);
    expect(to.origin + to.pathname).toBe(ENTRY_POINT);
    expect(to.searchParams.get("RelayState")).toBe(callbackUrl);
    const request = inflateRawSync(Buffer.from(to.searchParams.get("SAMLRequest")!, "base64")).toString();
    expect(request).toContain(`AssertionConsumerServiceURL="${acs}"`);
    expect(request).toContain(SP_ENTITY);
    return /\bID="([^"]+)"/.exec(request)![1];
  }

  interface Shape {
    requestId?: string | null;
    subjectInResponseTo?: string | null;
    email?: string;
    audience?: string;
    recipient?: string;
    notOnOrAfter?: Date;
    issuer?: string;
  }

  function responseXml(s: Shape) {
    const now = new Date();
    const iso = (d: Date) => d.toISOString();
    const later = s.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000);
    const irt = s.requestId ? ` InResponseTo="${s.requestId}"` : "";
    const subjectIrt = s.subjectInResponseTo === undefined ? irt : s.subjectInResponseTo ? ` InResponseTo="${s.subjectInResponseTo}"` : "";
    const issuer = s.issuer ?? IDP_ENTITY;
    // Accounts are pinned to the NameID: each person has their own.
    const nameId = s.email ? `opaque-${Buffer.from(s.email).toString("hex").slice(0, 16)}` : "opaque-7f3a";
    return (
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomUUID()}" Version="2.0" IssueInstant="${iso(now)}" Destination="${acs}"${irt}>` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      `<saml:Assertion ID="_a${randomUUID()}" Version="2.0" IssueInstant="${iso(now)}">` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">${nameId}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(later)}" Recipient="${s.recipient ?? acs}"${subjectIrt}/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${iso(new Date(now.getTime() - 60_000))}" NotOnOrAfter="${iso(later)}"><saml:AudienceRestriction><saml:Audience>${s.audience ?? SP_ENTITY}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      `<saml:AttributeStatement>` +
      `<saml:Attribute Name="email"><saml:AttributeValue>${s.email ?? "saml.user@example.test"}</saml:AttributeValue></saml:Attribute>` +
      `<saml:Attribute Name="displayName"><saml:AttributeValue>Saml User</saml:AttributeValue></saml:Attribute>` +
      `<saml:Attribute Name="memberOf"><saml:AttributeValue>dba</saml:AttributeValue><saml:AttributeValue>saml-readers</saml:AttributeValue></saml:Attribute>` +
      `</saml:AttributeStatement></saml:Assertion></samlp:Response>`
    );
  }

  /** Enveloped RSA-SHA256 signature over the Assertion (the usual IdP setting) or the Response. */
  function sign(xml: string, what: "Assertion" | "Response" = "Assertion", key = idpKey) {
    const sig = new SignedXml({
      privateKey: key,
      publicCert: idpCert,
      signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
      canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
    });
    sig.addReference({
      xpath: `//*[local-name(.)='${what}']`,
      digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
      transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"],
    });
    sig.computeSignature(xml, { location: { reference: `//*[local-name(.)='${what}']/*[local-name(.)='Issuer']`, action: "after" } });
    return sig.getSignedXml();
  }

  async function postToAcs(browser: CookieBrowser, xml: string, relayState = "/connections") {
    const res = await browser.fetch(acs, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://idp.example.test" },
      body: new URLSearchParams({ SAMLResponse: Buffer.from(xml).toString("base64"), RelayState: relayState }),
    });
    expect(res.status).toBe(303);
    return { location: res.headers.get("location")!, codeCookie: res.headers.getSetCookie().find((c) => c.includes("saml-code")) };
  }

  /** What the login page does on /login?saml=1: next-auth signIn("saml"). Returns the session cookie, if any. */
  async function completeSignIn(browser: CookieBrowser) {
    const csrf = await browser.fetch(`${gh.url}/api/auth/csrf`);
    const { csrfToken } = await csrf.json();
    const res = await browser.fetch(`${gh.url}/api/auth/callback/saml`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: gh.url },
      body: new URLSearchParams({ csrfToken, json: "true", callbackUrl: "/connections" }),
    });
    return { status: res.status, session: browser.jar.get("gatehouse.session") };
  }

  async function expectRefused(browser: CookieBrowser, xml: string) {
    const { location, codeCookie } = await postToAcs(browser, xml);
    expect(location).toBe(`${gh.url}/login?error=SamlRefused`);
    expect(codeCookie).toBeUndefined();
    expect((await completeSignIn(browser)).session).toBeUndefined();
  }

  it("shows the SAML button on the login page", async () => {
    const html = await (await fetch(`${gh.url}/login`)).text();
    expect(html).toContain("Sign in with Acme IdP");
  });

  let validXml = "";
  it("signs in through the IdP: ACS → login code → console session that loads console pages", async () => {
    const browser = new CookieBrowser();
    const requestId = await startLogin(browser, "/connections");
    validXml = sign(responseXml({ requestId }));
    const { location, codeCookie } = await postToAcs(browser, validXml);
    expect(location).toBe(`${gh.url}/login?saml=1&callbackUrl=%2Fconnections`);
    expect(codeCookie).toMatch(/HttpOnly/i);
    expect(codeCookie).toMatch(/SameSite=Lax/i);
    // The page the browser lands on renders and will finish the sign-in.
    expect((await browser.fetch(location)).status).toBe(200);

    const done = await completeSignIn(browser);
    expect(done.status).toBe(200);
    expect(done.session).toBeTruthy();

    const page = await fetch(`${gh.url}/connections`, { headers: { cookie: `gatehouse.session=${done.session}` }, redirect: "manual" });
    expect(page.status).toBe(200);
    const me = await fetch(`${gh.url}/api/v1/me`, { headers: { cookie: `gatehouse.session=${done.session}` } });
    expect(await me.json()).toMatchObject({ email: "saml.user@example.test", role: "member", groups: ["dba", "saml-readers"], via: "session" });

    // The login code was single-use: the same browser cannot mint a second session from it.
    browser.jar.delete("gatehouse.session");
    expect((await completeSignIn(browser)).session).toBeUndefined();

    const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=50");
    const row = audit.body.entries.find((e: { action: string; subject: string }) => e.action === "auth.login" && e.subject === "user:saml.user@example.test");
    expect(row?.detail).toMatchObject({ via: "saml", idp: IDP_ENTITY, nameId: "opaque-7f3a", userCreated: true });
  });

  it("signs in with real Chromium: button → IdP → ACS → login page finishes → console", async () => {
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${gh.url}/login?callbackUrl=%2Fconnections`);
      await page.getByRole("button", { name: "Sign in with Acme IdP" }).click();
      await page.waitForURL(`${gh.url}/connections`, { timeout: 20_000 });
      const me = await page.evaluate(() => fetch("/api/v1/me").then((r) => r.json()));
      expect(me).toMatchObject({ email: "browser.user@example.test", via: "session" });
    } finally {
      await browser.close();
    }
  });

  it("refuses the same response posted again (replay)", async () => {
    expect(validXml).not.toBe("");
    await expectRefused(new CookieBrowser(), validXml);
  });

  it("refuses a tampered response (email changed after signing)", async () => {
    const browser = new CookieBrowser();
    const requestId = await startLogin(browser);
    const signed = sign(responseXml({ requestId, email: "saml.user@example.test" }));
    await expectRefused(browser, signed.replace("saml.user@example.test", "admin@example.test"));
  });

  it("refuses a response signed by another key", async () => {
    const browser = new CookieBrowser();
    await expectRefused(browser, sign(responseXml({ requestId: await startLogin(browser) }), "Assertion", otherKey));
  });

  it("refuses an unsigned assertion even inside a signed Response", async () => {
    const browser = new CookieBrowser();
    await expectRefused(browser, sign(responseXml({ requestId: await startLogin(browser) }), "Response"));
  });

  it("refuses a wrong audience", async () => {
    const browser = new CookieBrowser();
    await expectRefused(browser, sign(responseXml({ requestId: await startLogin(browser), audience: "https://other-sp.example.test" })));
  });

  it("refuses an expired assertion", async () => {
    const browser = new CookieBrowser();
    await expectRefused(browser, sign(responseXml({ requestId: await startLogin(browser), notOnOrAfter: new Date(Date.now() - 120_000) })));
  });

  it("refuses another issuer, another Recipient, and unsolicited or forged request ids", async () => {
    let browser = new CookieBrowser();
    await expectRefused(browser, sign(responseXml({ requestId: await startLogin(browser), issuer: "https://evil-idp.example.test" })));
    browser = new CookieBrowser();
    await expectRefused(browser, sign(responseXml({ requestId: await startLogin(browser), recipient: "https://elsewhere.example.test/acs" })));
    // IdP-initiated (no InResponseTo at all) and a made-up id.
    await expectRefused(new CookieBrowser(), sign(responseXml({ requestId: null })));
    await expectRefused(new CookieBrowser(), sign(responseXml({ requestId: `_gh-${Date.now().toString(36)}-${"0".repeat(24)}-${"0".repeat(32)}` })));
    // InResponseTo only on the unsigned Response: the signed assertion is not bound to our request.
    browser = new CookieBrowser();
    await expectRefused(browser, sign(responseXml({ requestId: await startLogin(browser), subjectInResponseTo: null })));
  });

  it("refuses to finish a login in a browser that did not start it (login CSRF)", async () => {
    // The attacker starts a login and obtains a good response for their own account...
    const attacker = new CookieBrowser();
    const requestId = await startLogin(attacker);
    const xml = sign(responseXml({ requestId, email: "attacker@example.test" }));
    // ...and makes the victim's browser post it. The ACS accepts it, but the victim's browser
    // holds no (or another) request cookie, so the login code is refused.
    const victim = new CookieBrowser();
    await startLogin(victim);
    const { location } = await postToAcs(victim, xml);
    expect(location).toContain("/login?saml=1");
    const done = await completeSignIn(victim);
    expect(done.session).toBeUndefined();
    expect(done.status).toBe(401);
  });

  it("audits the refusals with their reasons", async () => {
    const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=200");
    const reasons = audit.body.entries
      .filter((e: { action: string; detail: { via?: string } }) => e.action === "auth.login_failed" && e.detail.via === "saml")
      .map((e: { detail: { reason: string } }) => e.detail.reason)
      .join("\n");
    for (const why of [/already used/, /signature/, /audience mismatch/, /expired|No valid subject confirmation/, /Recipient\/InResponseTo/, /unknown issuer/, /InResponseTo is (missing|not valid)/]) expect(reasons).toMatch(why);
  });
});
