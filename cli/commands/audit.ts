import { positionals, str } from "../args";
import type { Command, Group } from "../command";
import { CliError } from "../http";
import { writeStream } from "../stream-out";

type Verdict = { ok: true; rows: number; head: string; keyedFrom?: number } | { ok: false; rows: number; seq: number; problem: string; key?: "missing" | "mismatch" };

const verify: Command = {
  name: "verify",
  summary: "check the audit hash chain; exit 1 if it is broken",
  usage: "verify [--head HASH]",
  help: `  --head HASH   a head an earlier verify printed (keep it somewhere else): it must still be in
                the log, so rows cut off the end since then show`,
  options: { head: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const head = str(args.values, "head");
    const v = await ctx.api().get<Verdict>("/audit/verify", { head });
    if (v.ok) {
      ctx.out.result(v, () => ctx.out.line(`audit chain intact: ${v.rows} rows, head ${v.head}${v.keyedFrom ? ` (keyed from row ${v.keyedFrom})` : ""}`));
      return 0;
    }
    // The verdict is data (stdout); the failure is also reported as an error (stderr) for scripts.
    if (v.key) {
      ctx.out.result(v, () => ctx.out.line(`audit chain NOT VERIFIED: ${v.problem}`));
      throw new CliError("AUDIT_KEY", `audit chain not verified: ${v.problem}`);
    }
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
    const { rows, bytes } = await writeStream(ctx, body, out, "audit export");
    if (!out) return;
    ctx.out.result({ out, rows, bytes }, () => ctx.out.note(`wrote ${rows} audit rows to ${out}`));
  },
};

export const audit: Group = {
  name: "audit",
  summary: "tamper-evident audit log",
  commands: [verify, exportCmd],
};
