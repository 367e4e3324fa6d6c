/**
 * NOTIFY in the order of the calls. PostgreSQL delivers notifications in commit order; sent
 * through a pool, two NOTIFYs run on two sessions and may commit in either order, and the event
 * bus relies on one process's messages arriving in the order it sent them. So one batch is in
 * flight at a time, and what was asked for meanwhile goes out next, in one statement (several
 * pg_notify calls of one transaction arrive in order), a round trip per batch, not per message.
 */
const MAX_BATCH = 64;

interface Pending {
  channel: string;
  payload: string;
  resolve(): void;
  reject(err: unknown): void;
}

export function orderedNotify(run: (text: string, params: string[]) => Promise<unknown>): (channel: string, payload: string) => Promise<void> {
  const queue: Pending[] = [];
  let sending = false;

  const drain = async () => {
    sending = true;
    while (queue.length) {
      const batch = takeBatch(queue);
      const calls = batch.map((_, i) => `pg_notify($${2 * i + 1}, $${2 * i + 2})`).join(", ");
      try {
        await run(`select ${calls}`, batch.flatMap((p) => [p.channel, p.payload]));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    sending = false;
  };

  return (channel, payload) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ channel, payload, resolve, reject });
      if (!sending) void drain();
    });
}

/**
 * The next batch: at most MAX_BATCH, and no two alike, since PostgreSQL delivers identical
 * notifications of one transaction once.
 */
function takeBatch(queue: Pending[]): Pending[] {
  const seen = new Set<string>();
  let n = 0;
  while (n < queue.length && n < MAX_BATCH) {
    const key = `${queue[n].channel}\0${queue[n].payload}`;
    if (seen.has(key)) break;
    seen.add(key);
    n++;
  }
  return queue.splice(0, n);
}
