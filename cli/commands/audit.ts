import { positionals, str } from "../args";
import type { Command, Group } from "../command";
import { CliError } from "../http";
import { writeStream } from "../stream-out";

type Segment = { from: number; keyId: string };
type Verdict =
  | { ok: true; rows: number; head: string; keyedFrom?: number; segments?: Segment[] }
  | { ok: false; rows: number; seq: number; problem: string; key?: "missing" | "mismatch" | "retired"; segment?: Segment; pending?: true };

/** "keyed from row 4", and each rotation: "; key 1a2b.. from row 40". */
const keyedNote = (v: { keyedFrom?: number; segments?: Segment[] }) =>
  v.keyedFrom ? ` (keyed from row ${v.keyedFrom}${(v.segments ?? []).slice(1).map((s) => `; key ${s.keyId} from row ${s.from}`).join("")})` : "";

const verify: Command = {
  name: "verify",
  summary: "check the audit hash chain; exit 1 if it is broken",
  usage: "verify [--head HASH]",
  help: `  --head HASH   a head an earlier verify printed (keep it somewhere else): it must still be in
                the log, so rows cut off the end since then show
  exit 0: intact; 1: BROKEN or NOT VERIFIED; 3: every link verifies but a key rotation is pending
  (the server has the next key, the log is still under the one it holds as retired)`,
  options: { head: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const head = str(args.values, "head");
    const v = await ctx.api().get<Verdict>("/audit/verify", { head });
    if (v.ok) {
      ctx.out.result(v, () => ctx.out.line(`audit chain intact: ${v.rows} rows, head ${v.head}${keyedNote(v)}`));
      return 0;
    }
    // The verdict is data (stdout); the failure is also reported as an error (stderr) for scripts.
    if (v.pending) {
      ctx.out.result(v, () => ctx.out.line(`audit chain links intact (${v.rows} rows), key rotation PENDING: ${v.problem}`));
      throw new CliError("AUDIT_ROTATION_PENDING", `audit key rotation pending: ${v.problem}`, 3);
    }
    if (v.key) {
      ctx.out.result(v, () => ctx.out.line(`audit chain NOT VERIFIED: ${v.problem}`));
      throw new CliError("AUDIT_KEY", `audit chain not verified: ${v.problem}`);
    }
    ctx.out.result(v, () => ctx.out.line(`audit chain BROKEN at row ${v.seq}: ${v.problem}`));
    throw new CliError("AUDIT_CHAIN_BROKEN", `audit chain broken at row ${v.seq}: ${v.problem}`);
  },
};

const rotateKey: Command = {
  name: "rotate-key",
  summary: "rotate the audit key to the server's GATEHOUSE_AUDIT_KEY (admins)",
  usage: "rotate-key [--reason TEXT]",
  help: `  Before: give every process the new key as GATEHOUSE_AUDIT_KEY and the old one in
  GATEHOUSE_AUDIT_KEYS_RETIRED (\`master\` for the key derived from the master key), and restart
  them. The rotation row is keyed with the old key and names the new key's id; rows after it are
  keyed with the new key, and a process still on the old key refuses to write. Keep the head it
  prints: someone holding the old key could rewrite the rows after the rotation and forge it again
  further on; \`audit verify --head HEAD\` shows that.
  --reason TEXT   why (kept in the rotation row)`,
  options: { reason: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const reason = str(args.values, "reason");
    const r = await ctx.api().post<{ rotatedAt: number; fromKeyId: string; toKeyId: string; head: string }>("/audit/rotate-key", reason === undefined ? {} : { reason });
    ctx.out.result(r, () => {
      ctx.out.line(`audit key rotated at row ${r.rotatedAt}: ${r.fromKeyId} -> ${r.toKeyId}, head ${r.head}`);
      ctx.out.note(`keep the head apart from the database: \`gatehouse audit verify --head ${r.head}\` proves the rotation still stands where it was`);
    });
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
  commands: [verify, rotateKey, exportCmd],
};
