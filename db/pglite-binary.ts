/**
 * One statement on PGlite with binary parameters, written as wire-protocol messages.
 *
 * PGlite's own `query()` turns every parameter into text in JavaScript (bytea as hex, a
 * character loop for UTF-8 lengths): for megabytes of recorded output that was most of the
 * gateway's CPU. Here the bytes go into a Bind message as they are (format 1 = binary), and
 * PostgreSQL takes them without decoding (measured: ~150 MB/s of bytea against ~7 MB/s through
 * `query()` with a Uint8Array and ~35 MB/s as base64 in jsonb).
 *
 * Strings are sent as text parameters; Buffers as binary, so their placeholders must have a
 * binary-compatible type (`$2::bytea`). Runs under PGlite's own locks, so it never lands inside
 * another caller's transaction or between the messages of another query.
 */
export interface PgliteRaw {
  execProtocolRaw(message: Uint8Array, opts?: { syncToFs?: boolean }): Promise<Uint8Array>;
  _runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>;
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
}

export function asPgliteRaw(client: unknown): PgliteRaw | null {
  const c = client as Partial<PgliteRaw> | null;
  return c && typeof c.execProtocolRaw === "function" && typeof c._runExclusiveQuery === "function" && typeof c._runExclusiveTransaction === "function" ? (c as PgliteRaw) : null;
}

export async function execBinary(client: PgliteRaw, text: string, params: readonly (string | Buffer)[]): Promise<void> {
  const message = Buffer.concat(buildMessages(text, params));
  const reply = await client._runExclusiveTransaction(() => client._runExclusiveQuery(() => client.execProtocolRaw(message)));
  const error = firstError(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength));
  if (error) throw error;
}

function buildMessages(text: string, params: readonly (string | Buffer)[]): Buffer[] {
  const values = params.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : p));
  const formats = params.map((p) => (typeof p === "string" ? 0 : 1));
  // Parse: unnamed statement, parameter types inferred from the casts in the text
  const parse = frame("P", [cstring(""), cstring(text), int16(0)]);
  // Bind: unnamed portal and statement, per-parameter formats, values, results in text
  const bindHead = [cstring(""), cstring(""), int16(formats.length), ...formats.map(int16), int16(values.length)];
  const bindValues = values.flatMap((v) => [int32(v.length), v]);
  const bind = frame("B", [...bindHead, ...bindValues, int16(0)]);
  const execute = frame("E", [cstring(""), int32(0)]);
  const sync = frame("S", []);
  return [...parse, ...bind, ...execute, ...sync];
}

/** A message as [header, ...parts]: the parts are not copied until the final concat. */
function frame(type: string, parts: Buffer[]): Buffer[] {
  const len = parts.reduce((n, p) => n + p.length, 4);
  const head = Buffer.allocUnsafe(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(len, 1);
  return [head, ...parts];
}

const cstring = (s: string) => Buffer.from(`${s}\0`, "utf8");
const int16 = (n: number) => {
  const b = Buffer.allocUnsafe(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n);
  return b;
};

/** The first ErrorResponse in a backend reply, as an Error with PostgreSQL's message and code. */
function firstError(reply: Buffer): Error | null {
  for (let off = 0; off + 5 <= reply.length; ) {
    const type = reply[off];
    const len = reply.readInt32BE(off + 1);
    if (type === 0x45 /* E */) {
      const fields = new Map<string, string>();
      for (let p = off + 5; p < off + 1 + len && reply[p] !== 0; ) {
        const end = reply.indexOf(0, p + 1);
        fields.set(String.fromCharCode(reply[p]), reply.toString("utf8", p + 1, end));
        p = end + 1;
      }
      return Object.assign(new Error(fields.get("M") ?? "error from PGlite"), { code: fields.get("C") });
    }
    off += 1 + len;
  }
  return null;
}
