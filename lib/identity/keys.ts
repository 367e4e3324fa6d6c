import { eq } from "drizzle-orm";
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import type { Db } from "@/db/client";
import { settings } from "@/db/schema";
import { open, seal } from "@/lib/crypto/secrets";

/**
 * The EdDSA key that signs Gatehouse tokens. It lives in the database sealed with the master
 * key (data dir or GATEHOUSE_SECRET_KEY), so every process on a shared PostgreSQL verifies the
 * tokens any of them issued, and a database dump alone cannot mint tokens.
 */
export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

const SETTING = "token_signing_key";
const g = globalThis as { __gatehouseKeys?: Promise<SigningKeys> };

export function getSigningKeys(db: Db): Promise<SigningKeys> {
  g.__gatehouseKeys ??= loadOrCreate(db).catch((err) => {
    g.__gatehouseKeys = undefined;
    throw err;
  });
  return g.__gatehouseKeys;
}

async function loadOrCreate(db: Db): Promise<SigningKeys> {
  let [row] = await db.select().from(settings).where(eq(settings.key, SETTING));
  if (!row) {
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.kid = `gh-${Date.now().toString(36)}`;
    // Two processes starting together: the first insert wins and both read it back.
    await db.insert(settings).values({ key: SETTING, value: seal(JSON.stringify(jwk)) }).onConflictDoNothing();
    [row] = await db.select().from(settings).where(eq(settings.key, SETTING));
  }
  const jwk = JSON.parse(open(row.value)) as JWK;
  const { d: _d, ...publicJwk } = jwk;
  return {
    kid: jwk.kid ?? "gh",
    privateKey: (await importJWK(jwk, "EdDSA")) as CryptoKey,
    publicKey: (await importJWK(publicJwk, "EdDSA")) as CryptoKey,
  };
}
