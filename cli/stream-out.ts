import fs from "node:fs";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Context } from "./command";
import { CliError } from "./http";

/**
 * Streams a download (audit export, session export) to stdout or to --out FILE. A file is
 * written beside the target and renamed only when complete, so an interrupted export never
 * leaves a truncated file that looks whole.
 */
export async function writeStream(ctx: Context, body: ReadableStream<Uint8Array>, out: string | undefined, what: string): Promise<{ rows: number; bytes: number }> {
  let rows = 0;
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) rows++;
      done(null, chunk);
    },
  });
  const source = Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>);
  if (!out) {
    await pipeline(source, counter, ctx.out.stdout as NodeJS.WritableStream).catch((err: NodeJS.ErrnoException) => {
      // `gatehouse ... export | head` closes the pipe early: the reader's choice, not an error.
      if (err.code === "EPIPE" || err.code === "ERR_STREAM_PREMATURE_CLOSE") return;
      throw new CliError("EXPORT_FAILED", `${what} interrupted after ${rows} lines: ${err.message}`);
    });
    return { rows, bytes };
  }
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.partial`);
  try {
    await pipeline(source, counter, fs.createWriteStream(tmp, { mode: 0o600 }));
    fs.renameSync(tmp, out);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    throw new CliError("EXPORT_FAILED", e.syscall ? `cannot write ${out}: ${e.code}` : `${what} interrupted after ${rows} lines: ${e.message}`);
  }
  return { rows, bytes };
}
