import { parseSync } from "libpg-query";
import { beforeAll, describe, expect, it } from "vitest";
import { classifySql, columnSourcesOfSelect, initClassifier } from "./classify";
import { build, FrameReader, parseBackendMessage } from "./wire";

/**
 * Tiny benchmark: prints µs per statement for classification (against the bare parser in the
 * same run, so the ratio shows what our walk adds) and per DataRow for the codec. The bounds
 * are loose on purpose — they catch a 10x regression, not noise.
 */

const STATEMENTS = [
  "SELECT id, email FROM customers WHERE id = $1",
  "SELECT c.name, sum(o.total) FROM public.customers c JOIN orders o ON o.customer_id = c.id WHERE o.created_at > now() - interval '7 days' GROUP BY 1 ORDER BY 2 DESC LIMIT 20",
  "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
  "INSERT INTO events (kind, payload) VALUES ('login', '{}'::jsonb) RETURNING id",
  "WITH moved AS (DELETE FROM queue WHERE id IN (SELECT id FROM queue ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED) RETURNING *) INSERT INTO done SELECT * FROM moved",
  "BEGIN",
  "SET statement_timeout = '5s'",
  "SELECT set_config('search_path', 'app', false)",
];

function time(n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 500); i++) fn(); // warm-up
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t) * 1000) / n;
}

describe("speed", () => {
  beforeAll(() => initClassifier());

  it("classifies a statement in tens of microseconds", () => {
    const rounds = 2000;
    let k = 0;
    const parseOnly = time(rounds * STATEMENTS.length, () => parseSync(STATEMENTS[k++ % STATEMENTS.length]));
    k = 0;
    const classify = time(rounds * STATEMENTS.length, () => classifySql(STATEMENTS[k++ % STATEMENTS.length]));
    k = 0;
    const sources = time(rounds, () => columnSourcesOfSelect(STATEMENTS[k++ % 2]));
    console.log(
      `[postgres classify] ${classify.toFixed(1)} µs/statement (parser alone ${parseOnly.toFixed(1)} µs, ratio ${(classify / parseOnly).toFixed(2)}); ` +
        `columnSourcesOfSelect ${sources.toFixed(1)} µs`,
    );
    expect(classify).toBeLessThan(1000);
  });

  it("parses and rebuilds a DataRow in about a microsecond", () => {
    const row = build.dataRow([Buffer.from("42"), Buffer.from("alice@example.com"), null, Buffer.alloc(64, 1)]);
    const stream = Buffer.concat(new Array(1000).fill(row));
    const perRow = time(200, () => {
      const r = new FrameReader();
      r.push(stream);
      for (let f = r.next(); f; f = r.next()) {
        const m = parseBackendMessage(f);
        if (m.type === "DataRow") build.dataRow(m.values);
      }
    }) / 1000;
    console.log(`[postgres wire] ${(perRow * 1000).toFixed(0)} ns per DataRow (frame + parse + rebuild)`);
    expect(perRow).toBeLessThan(50);
  });
});
