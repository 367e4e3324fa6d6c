import fs from "node:fs";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { positionals, str } from "../args";
import type { Command, Group } from "../command";
import { CliError } from "../http";

type Verdict = { ok: true; rows: number; head: string } | { ok: false; rows: number; seq: number; problem: string };

const verify: Command = {
  name: "verify",
  summary: "check the audit hash chain; exit 1 if it is broken",
  usage: "verify",
  async run(ctx, args) {
    positionals(args);
    const v = await ctx.api().get<Verdict>("/audit/verify");
    if (v.ok) {
      ctx.out.result(v, () => ctx.out.line(`audit chain intact: ${v.rows} rows, head ${v.head}`));
      return 0;
    }
    // The verdict is data (stdout); the failure is also reported as an error (stderr) for scripts.
    ctx.out.result(v, () => ctx.out.line(`audit chain BROKEN at row ${v.seq}: ${v.problem}`));
    throw new CliError("AUDIT_CHAIN_BROKEN", `audit chain broken at row ${v.seq}: ${v.problem}`);
  },
};

const exportCmd: Command = {
  name: "export",
  summary: "stream the audit log as NDJSON (with hashes, verifiable offline)",
  usage: "export [--out FILE]",
  help: `  --out FILE   write to FILE (replaced only once the export completed) instead of stdout`,
  options: { out: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const out = str(args.values, "out");
    const body = await ctx.api().stream("/audit/export");
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
        // `gatehouse audit export | head` closes the pipe early: the reader's choice, not an error.
        if (err.code === "EPIPE" || err.code === "ERR_STREAM_PREMATURE_CLOSE") return;
        throw new CliError("EXPORT_FAILED", `audit export interrupted after ${rows} rows: ${err.message}`);
      });
      return;
    }
    // Write beside the target and rename, so an interrupted export never leaves a truncated file
    // that looks like a complete (and verifiable-but-short) audit log.
    const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.partial`);
    try {
      await pipeline(source, counter, fs.createWriteStream(tmp, { mode: 0o600 }));
      fs.renameSync(tmp, out);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      const e = err as NodeJS.ErrnoException;
      throw new CliError("EXPORT_FAILED", e.syscall ? `cannot write ${out}: ${e.code}` : `audit export interrupted after ${rows} rows: ${e.message}`);
    }
    ctx.out.result({ out, rows, bytes }, () => ctx.out.note(`wrote ${rows} audit rows to ${out}`));
  },
};

export const audit: Group = {
  name: "audit",
  summary: "tamper-evident audit log",
  commands: [verify, exportCmd],
};
