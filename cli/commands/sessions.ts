import { positionals, str, UsageError } from "../args";
import type { SessionJson as Session } from "../../lib/api-types/session";
import type { Command, Group } from "../command";
import { CliError } from "../http";
import { formatTime } from "../output";
import { writeStream } from "../stream-out";

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list sessions (yours, or all for auditors and admins)",
  usage: "list [--status live|ended|killed|failed] [--protocol P] [--connection NAME] [--search TEXT]",
  options: { status: { type: "string" }, protocol: { type: "string" }, connection: { type: "string" }, search: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const res = await ctx.api().get<{ sessions: Session[] }>("/sessions", {
      status: str(args.values, "status"),
      protocol: str(args.values, "protocol"),
      connection: str(args.values, "connection"),
      q: str(args.values, "search"),
    });
    ctx.out.result(res, () =>
      ctx.out.table(
        res.sessions,
        [
          { header: "ID", value: (s) => s.id },
          { header: "STARTED", value: (s) => formatTime(s.startedAt) },
          { header: "CHAIN", value: (s) => s.chain.map((a) => a.name).join(" → ") },
          { header: "CONNECTION", value: (s) => s.connectionName },
          { header: "PROTOCOL", value: (s) => s.protocol },
          { header: "STATUS", value: (s) => s.status },
        ],
        "no sessions",
      ),
    );
  },
};

const show: Command = {
  name: "show",
  aliases: ["get"],
  summary: "show one session",
  usage: "show ID",
  async run(ctx, args) {
    const [id] = positionals(args, "ID");
    const res = await ctx.api().get<{ session: Session }>(`/sessions/${encodeURIComponent(id)}`);
    const s = res.session;
    ctx.out.result(res, () =>
      ctx.out.fields([
        ["id", s.id],
        ["chain", s.chain.map((a) => `${a.name} (${a.kind})`).join(" → ")],
        ["connection", s.connectionName],
        ["protocol", `${s.protocol} (${s.origin})`],
        ["client", `${s.clientAddress}${s.applicationName ? ` · ${s.applicationName}` : ""}`],
        ["status", s.endReason ? `${s.status}: ${s.endReason}` : s.status],
        ["started", formatTime(s.startedAt)],
        ["ended", formatTime(s.endedAt)],
      ]),
    );
  },
};

const exportCmd: Command = {
  name: "export",
  summary: "download a session's recording (asciicast v2 for terminal sessions, JSON lines for all)",
  usage: "export ID [--format jsonl|asciicast] [--channel N] [--raw] [-o|--out FILE]",
  help: `  --raw   asciicast: the output exactly as recorded. Without it, sequences that act on the
          terminal that plays the cast (clipboard writes, titles, queries it answers, DCS/APC
          strings) are left out; everything that draws is kept`,
  options: { format: { type: "string" }, channel: { type: "string" }, out: { type: "string", short: "o" }, raw: { type: "boolean" } },
  async run(ctx, args) {
    const [id] = positionals(args, "ID");
    const format = str(args.values, "format") ?? "jsonl";
    if (!["jsonl", "asciicast"].includes(format)) throw new UsageError("--format must be jsonl or asciicast");
    const channel = str(args.values, "channel");
    if (channel !== undefined && (format !== "asciicast" || !/^\d{1,7}$/.test(channel))) throw new UsageError("--channel takes a channel number and goes with --format asciicast");
    const raw = args.values.raw === true;
    if (raw && format !== "asciicast") throw new UsageError("--raw goes with --format asciicast (jsonl is always as recorded)");
    const out = str(args.values, "out");
    const body = await ctx.api().stream(`/sessions/${encodeURIComponent(id)}/export`, { format, ch: channel, raw: raw ? "1" : undefined });
    const { rows, bytes } = await writeStream(ctx, body, out, "session export");
    if (out) ctx.out.result({ out, rows, bytes }, () => ctx.out.note(`wrote ${rows} lines to ${out}`));
  },
};

const kill: Command = {
  name: "kill",
  summary: "end a live session now (admins)",
  usage: "kill ID [--reason R]",
  options: { reason: { type: "string" } },
  async run(ctx, args) {
    const [id] = positionals(args, "ID");
    const res = await ctx.api().post<{ id: string; killed: boolean }>(`/sessions/${encodeURIComponent(id)}/kill`, { reason: str(args.values, "reason") });
    ctx.out.result(res, () => ctx.out.line(`ended session ${id}`));
  },
};

type Verification =
  | { state: "intact"; events: number; sealedAt: string; auditSeq: number }
  | { state: "tampered"; events: number; auditSeq: number; problem: string }
  | { state: "unsealed"; reason: string };

const verify: Command = {
  name: "verify",
  summary: "check a session's recording against the seal written into the audit log when it ended",
  usage: "verify ID",
  help: `  exit 0: intact; 1: TAMPERED (an event was edited, removed or added since it was sealed);
  3: not sealed (the session is live, or ended before recordings were sealed)`,
  async run(ctx, args) {
    const [id] = positionals(args, "ID");
    const res = await ctx.api().get<{ verification: Verification }>(`/sessions/${encodeURIComponent(id)}/verify`);
    const v = res.verification;
    if (v.state === "intact") {
      ctx.out.result(res, () => ctx.out.line(`recording intact: ${v.events} events, sealed ${formatTime(v.sealedAt)} (audit row ${v.auditSeq})`));
      return 0;
    }
    if (v.state === "tampered") {
      ctx.out.result(res, () => ctx.out.line(`recording TAMPERED: ${v.problem}`));
      throw new CliError("RECORDING_TAMPERED", `recording of session ${id} tampered: ${v.problem}`);
    }
    ctx.out.result(res, () => ctx.out.line(`recording not sealed: ${v.reason}`));
    throw new CliError("RECORDING_NOT_SEALED", `recording of session ${id} not sealed: ${v.reason}`, 3);
  },
};

export const sessions: Group = {
  name: "sessions",
  summary: "live and recorded sessions",
  commands: [list, show, exportCmd, kill, verify],
};
