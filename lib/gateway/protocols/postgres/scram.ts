import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

/**
 * SCRAM-SHA-256 client (RFC 5802 / RFC 7677) for authenticating the gateway to an upstream
 * PostgreSQL, plus the legacy md5 password hash. The gateway holds upstream credentials, so a
 * server that cannot prove it knows the verifier (bad server signature) must be refused before
 * any client statement reaches it: that is what stops a spoofed upstream from harvesting data.
 *
 *   const scram = new ScramClient({ password, channelBinding });
 *   send(build.saslInitialResponse(scram.mechanism, scram.clientFirst()));
 *   send(build.saslResponse(await scram.clientFinal(saslContinue.data)));
 *   scram.verifyServerFinal(saslFinal.data);   // throws ScramError unless the server proved itself
 */

const pbkdf2Async = promisify(pbkdf2);

export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScramError";
  }
}

export interface ChannelBinding {
  type: "tls-server-end-point";
  /** hash of the server certificate (RFC 5929), as PostgreSQL expects */
  data: Buffer;
}

export interface ScramClientOptions {
  password: string;
  /** PostgreSQL ignores the SCRAM user name (it uses the startup user); RFC tests set one */
  username?: string;
  /** fixed client nonce, for test vectors only */
  nonce?: string;
  /** use SCRAM-SHA-256-PLUS with this binding (the connection must be TLS) */
  channelBinding?: ChannelBinding;
  /**
   * The connection is TLS and we could bind, but no binding data is given: send gs2 flag "y"
   * so a server that does offer -PLUS detects a downgrade (RFC 5802 §6).
   */
  clientSupportsBinding?: boolean;
  /** refuse servers asking for more PBKDF2 rounds than this (default 1,000,000): a CPU DoS guard */
  maxIterations?: number;
}

export class ScramClient {
  readonly mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-256-PLUS";
  private readonly gs2Header: string;
  private readonly clientFirstBare: string;
  private readonly clientNonce: string;
  private expectedServerSignature: Buffer | null = null;
  private state: "initial" | "first-sent" | "final-sent" | "done" = "initial";

  constructor(private readonly opts: ScramClientOptions) {
    this.clientNonce = opts.nonce ?? randomBytes(18).toString("base64");
    if (/[,\s]/.test(this.clientNonce) || this.clientNonce.length === 0) throw new ScramError("invalid client nonce");
    if (opts.channelBinding) {
      this.mechanism = "SCRAM-SHA-256-PLUS";
      this.gs2Header = `p=${opts.channelBinding.type},,`;
    } else {
      this.mechanism = "SCRAM-SHA-256";
      this.gs2Header = opts.clientSupportsBinding ? "y,," : "n,,";
    }
    this.clientFirstBare = `n=${saslName(opts.username ?? "")},r=${this.clientNonce}`;
  }

  /** The mechanism to use from an AuthenticationSASL list, or an error if none fits. */
  static choose(mechanisms: readonly string[], opts: ScramClientOptions): ScramClient {
    if (opts.channelBinding && mechanisms.includes("SCRAM-SHA-256-PLUS")) return new ScramClient(opts);
    if (!mechanisms.includes("SCRAM-SHA-256")) throw new ScramError(`no supported SASL mechanism in [${mechanisms.join(", ")}]`);
    const { channelBinding, ...rest } = opts;
    return new ScramClient({ ...rest, clientSupportsBinding: rest.clientSupportsBinding || channelBinding !== undefined });
  }

  /** client-first-message: the SASLInitialResponse payload. */
  clientFirst(): Buffer {
    this.expect("initial");
    this.state = "first-sent";
    return Buffer.from(this.gs2Header + this.clientFirstBare);
  }

  /** Takes server-first-message (SASLContinue), returns client-final-message (SASLResponse). */
  async clientFinal(serverFirstBytes: Uint8Array): Promise<Buffer> {
    this.expect("first-sent");
    const serverFirst = Buffer.from(serverFirstBytes).toString("utf8");
    const attrs = parseAttributes(serverFirst);
    if (attrs[0]?.[0] === "m") throw new ScramError("server requires an unsupported SCRAM extension");
    const [r, s, i] = attrs;
    if (r?.[0] !== "r" || s?.[0] !== "s" || i?.[0] !== "i") throw new ScramError("malformed server-first-message");
    const nonce = r[1];
    // The server must extend our nonce; echoing it (or dropping it) means replay or a broken peer.
    if (!nonce.startsWith(this.clientNonce) || nonce.length <= this.clientNonce.length) throw new ScramError("server nonce does not extend the client nonce");
    const salt = strictBase64(s[1], "salt");
    if (!/^[1-9][0-9]{0,9}$/.test(i[1])) throw new ScramError("invalid iteration count");
    const iterations = Number(i[1]);
    if (iterations > (this.opts.maxIterations ?? 1_000_000)) throw new ScramError(`iteration count ${iterations} is above the limit`);

    const cbindInput = this.opts.channelBinding ? Buffer.concat([Buffer.from(this.gs2Header), this.opts.channelBinding.data]) : Buffer.from(this.gs2Header);
    const withoutProof = `c=${cbindInput.toString("base64")},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;

    const saltedPassword = await pbkdf2Async(saslPrep(this.opts.password), salt, iterations, 32, "sha256");
    const clientKey = hmac(saltedPassword, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const clientSignature = hmac(storedKey, authMessage);
    const proof = xor(clientKey, clientSignature);
    this.expectedServerSignature = hmac(hmac(saltedPassword, "Server Key"), authMessage);
    this.state = "final-sent";
    return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`);
  }

  /** Checks server-final-message (SASLFinal). Throws unless the server's signature verifies. */
  verifyServerFinal(serverFinalBytes: Uint8Array): void {
    this.expect("final-sent");
    const attrs = parseAttributes(Buffer.from(serverFinalBytes).toString("utf8"));
    const first = attrs[0];
    if (first?.[0] === "e") throw new ScramError(`server rejected authentication: ${first[1]}`);
    if (first?.[0] !== "v") throw new ScramError("malformed server-final-message");
    const got = strictBase64(first[1], "server signature");
    const want = this.expectedServerSignature!;
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new ScramError("server signature does not verify: refusing the upstream");
    this.state = "done";
  }

  /** True only after verifyServerFinal succeeded; AuthenticationOk before that is a spoof. */
  get verified(): boolean {
    return this.state === "done";
  }

  private expect(state: ScramClient["state"]): void {
    if (this.state !== state) throw new ScramError(`SCRAM exchange out of order (in ${this.state}, expected ${state})`);
  }
}

/** PostgreSQL's md5 method: "md5" + md5(md5(password + user) + salt), hex. */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  const inner = createHash("md5").update(password + user, "utf8").digest("hex");
  return "md5" + createHash("md5").update(inner, "latin1").update(salt).digest("hex");
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let k = 0; k < a.length; k++) out[k] = a[k] ^ b[k];
  return out;
}

function parseAttributes(msg: string): [string, string][] {
  return msg.split(",").map((part) => {
    if (!/^[A-Za-z]=/.test(part)) throw new ScramError("malformed SCRAM message");
    return [part[0], part.slice(2)];
  });
}

function strictBase64(s: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0 || s.length === 0) throw new ScramError(`invalid base64 in ${what}`);
  return Buffer.from(s, "base64");
}

/** RFC 5802 saslname: ',' and '=' are escaped. */
function saslName(name: string): string {
  return name.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

/**
 * SASLprep (RFC 4013), the parts that matter for passwords: non-ASCII spaces map to U+0020,
 * "commonly mapped to nothing" characters vanish, then NFKC. Like PostgreSQL's pg_saslprep, a
 * password that SASLprep would reject (control or prohibited characters) is used as it is —
 * the server does the same when it stores the verifier, so both sides agree.
 */
function saslPrep(password: string): string {
  if (/^[\x20-\x7e]*$/.test(password)) return password;
  const mapped = password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, " ")
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, "")
    .normalize("NFKC");
  // Prohibited output (RFC 4013 §2.3, abridged): controls, private use, non-characters, surrogates.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\ue000-\uf8ff\ufff9-\ufffd\ud800-\udfff]/u.test(mapped)) return password;
  return mapped;
}
