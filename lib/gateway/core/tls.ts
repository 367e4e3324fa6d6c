import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/**
 * The gateways' TLS certificate: GATEHOUSE_TLS_CERT / GATEHOUSE_TLS_KEY (PEM files) when set,
 * otherwise a self-signed certificate generated once into the data dir with Debian's openssl
 * (clients that verify must be given it, or a real one must be configured).
 */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  certPath: string;
}

export function ensureTlsMaterial(dataDir: string): TlsMaterial {
  const certPath = process.env.GATEHOUSE_TLS_CERT ?? path.join(dataDir, "tls", "gateway.crt");
  const keyPath = process.env.GATEHOUSE_TLS_KEY ?? path.join(dataDir, "tls", "gateway.key");
  if (!fs.existsSync(certPath) || !fs.existsSync(keyPath)) {
    if (process.env.GATEHOUSE_TLS_CERT) throw new Error(`GATEHOUSE_TLS_CERT/GATEHOUSE_TLS_KEY point at missing files (${certPath}, ${keyPath})`);
    fs.mkdirSync(path.dirname(certPath), { recursive: true, mode: 0o700 });
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "825", "-subj", "/CN=gatehouse", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", keyPath, "-out", certPath],
      { stdio: "ignore" },
    );
    fs.chmodSync(keyPath, 0o600);
  }
  return { cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath), certPath };
}
