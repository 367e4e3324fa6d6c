import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { detect } from "../detect";

// Test tokens are assembled from pieces so that secret scanners do not flag this file.
const AWS = "AKIA" + "IOSFODNN7EXAMPLE";
const AWS_STS = "ASIA" + "Y34FZKBOKMUTVV7A";
const GITHUB = "ghp" + "_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
const GITHUB_OAUTH = "gho" + "_" + "16C7e42F292c6912E7710c838347Ae178B4a";
const GITHUB_PAT = "github" + "_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV";
const SLACK = "xox" + "b-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
const STRIPE = "sk" + "_live_" + "51H8abcdefghijklmnopqrstuvwxYZ0123456789";
const STRIPE_RESTRICTED = "rk" + "_live_" + "51H8abcdefghijklmnopqrst";
const GOOGLE = "AIza" + "SyA-1234567890abcdefghijklmnopqrstu";

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const JWT = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: "1234567890", name: "Alice" })}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;

const kinds = (text: string) => detect(text).map((d) => `${d.detector}:${d.value}`);

describe("secret detectors", () => {
  it.each([
    ["aws-key", AWS],
    ["aws-key", AWS_STS],
    ["github-token", GITHUB],
    ["github-token", GITHUB_OAUTH],
    ["github-token", GITHUB_PAT],
    ["slack-token", SLACK],
    ["stripe-key", STRIPE],
    ["stripe-key", STRIPE_RESTRICTED],
    ["google-api-key", GOOGLE],
    ["jwt", JWT],
  ])("finds %s in config, JSON and headers", (kind, token) => {
    expect(kinds(`export TOKEN=${token}`)).toEqual([`${kind}:${token}`]);
    expect(kinds(`{"token":"${token}"}`)).toEqual([`${kind}:${token}`]);
    expect(kinds(`Authorization: Bearer ${token}\n`)).toEqual([`${kind}:${token}`]);
  });

  it("rejects look-alikes: wrong length, wrong prefix, embedded in a longer word", () => {
    const negatives = [
      "AKIA" + "IOSFODNN7EXAMPL", // 15 after the prefix
      "AKIA" + "IOSFODNN7EXAMPLEX", // 17
      "AKIB" + "IOSFODNN7EXAMPLE",
      "XAKIA" + "IOSFODNN7EXAMPLE",
      "ghx" + "_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
      "gxp" + "_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
      "github" + "_pat_" + "tooshort",
      "ghp" + "_" + "short",
      "xox" + "z-" + "123456789012-abc",
      "sk" + "_test_" + "51H8abcdefghijklmnopqrstuvwxYZ",
      "pk" + "_live_" + "51H8abcdefghijklmnopqrstuvwxYZ",
      "AIza" + "tooShort",
    ];
    for (const v of negatives) expect(kinds(`x ${v} y`), v).toEqual([]);
  });

  it("requires a JWT header that decodes to a JSON object", () => {
    const notJson = `eyJub3QganNvbg.${b64url({ a: 1 })}.sig`; // "{not json"
    const array = `${b64url([1, 2])}.${b64url({ a: 1 })}.sig`;
    expect(kinds(`x ${notJson} y`)).toEqual([]);
    expect(kinds(`x ${array} y`)).toEqual([]);
    expect(kinds(`x ${JWT.split(".").slice(0, 2).join(".")} y`)).toEqual([]); // two segments
  });

  it("finds unsecured and encrypted JWTs, without the sentence's final dot", () => {
    const unsecured = `${b64url({ alg: "none" })}.${b64url({ sub: "x" })}.`;
    expect(kinds(`token ${unsecured} end`)).toEqual([`jwt:${unsecured}`]);
    const jwe = `${b64url({ alg: "RSA-OAEP", enc: "A256GCM" })}.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGe.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ`;
    expect(kinds(`jwe ${jwe} end`)).toEqual([`jwt:${jwe}`]);
    expect(kinds(`see ${JWT}.`)).toEqual([`jwt:${JWT}`]);
  });
});
