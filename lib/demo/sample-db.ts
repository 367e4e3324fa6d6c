import path from "node:path";
import fs from "node:fs";
import { initClusterInChild } from "@/db/client";
import { markSerialUpstream } from "@/lib/gateway/protocols/postgres/metadata";

/**
 * The demo upstream: a second PGlite, served on a loopback port with the real PostgreSQL wire
 * protocol (pglite-socket), so every gateway feature can be tried on it from a fresh clone.
 * It is an *upstream*: clients never reach it except through Gatehouse.
 */
export interface SampleDb {
  port: number;
  stop(): Promise<void>;
}

const FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Donald", "Frances", "Linus", "Radia", "Tim"];
const LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Knuth", "Allen", "Torvalds", "Perlman", "Berners-Lee"];

/** Valid-looking test data: card numbers pass Luhn (test BINs), SSNs avoid invalid areas. */
export function sampleCustomers(n = 48) {
  const rows = [];
  for (let i = 0; i < n; i++) {
    const first = FIRST[i % FIRST.length];
    const last = LAST[(i * 5) % LAST.length];
    rows.push({
      id: i + 1,
      name: `${first} ${last}`,
      email: `${first}.${last}${i}@example.com`.toLowerCase(),
      phone: `+1-555-${String(100 + i).padStart(3, "0")}-${String(1000 + i * 37).slice(-4)}`,
      ssn: `${String(123 + i).padStart(3, "0")}-${String(45 + (i % 50)).padStart(2, "0")}-${String(6789 + i).slice(-4)}`,
      card: luhnComplete(`4111111111${String(100000 + i * 7).slice(-5)}`),
      country: ["US", "DE", "FR", "GB"][i % 4],
      balance: ((i * 7919) % 100000) / 100,
    });
  }
  return rows;
}

function luhnComplete(partial: string): string {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return partial + ((10 - (sum % 10)) % 10);
}

export async function startSampleDb(dataDir: string, port: number, password: string): Promise<SampleDb> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  const dir = path.join(dataDir, "demo-db");
  const fresh = !fs.existsSync(dir);
  // A small buffer pool (PGlite's default is 128 MB, all of it resident) and initdb in a child
  // process, as for Gatehouse's own database (db/client.ts): a first start was ~900 MB resident.
  const startParams = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"];
  if (fresh) {
    fs.mkdirSync(dir, { recursive: true });
    await initClusterInChild(dir, startParams);
  }
  const db = await PGlite.create(dir, { startParams });
  if (fresh) await seed(db);
  const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1", maxConnections: 16 });
  await server.start();
  // PGlite serves one transaction at a time: the gateway must not ask its catalog after a result.
  markSerialUpstream(`127.0.0.1:${port}`);
  void password; // pglite-socket accepts any password; the demo listens on loopback only.
  return {
    port,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}

async function seed(db: import("@electric-sql/pglite").PGlite) {
  await db.exec(`
    create table customers (
      id integer primary key, name text not null, email text not null, phone text,
      ssn text, card_number text, country text, balance numeric(12,2)
    );
    create table orders (id serial primary key, customer_id integer references customers(id), total numeric(12,2), created_at timestamptz default now());
  `);
  for (const c of sampleCustomers()) {
    await db.query("insert into customers values ($1,$2,$3,$4,$5,$6,$7,$8)", [c.id, c.name, c.email, c.phone, c.ssn, c.card, c.country, c.balance]);
    await db.query("insert into orders (customer_id, total) values ($1, $2)", [c.id, (c.balance / 10).toFixed(2)]);
  }
}
