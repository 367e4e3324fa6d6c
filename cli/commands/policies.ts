import fs from "node:fs";
import { flag, parseList, positionals, str, UsageError } from "../args";
import type { Command, Context, Group } from "../command";
import { CliError, type ApiClient } from "../http";
import { formatTime } from "../output";

/** A stored policy version (GET /policies, GET /policies/versions/N). */
interface PolicyVersion {
  version: number;
  text: string;
  comment: string;
  createdAt: string;
  authorEmail: string | null;
}

/** One problem from the validator; line and column are 1-based. */
interface Problem {
  severity: "error" | "warning";
  message: string;
  help?: string;
  policy?: string;
  line?: number;
  column?: number;
}

interface Validation {
  ok: boolean;
  errors: Problem[];
  warnings: Problem[];
  policies: { id: string; effect: "permit" | "forbid"; line: number }[];
}

interface Saved {
  version: number;
  warnings: Problem[];
}

type Verdict =
  | { type: "allow"; policies: string[] }
  | { type: "mask"; ruleSets: string[]; policies: string[] }
  | { type: "hold"; requirement: { approverGroups: string[]; minApprovals: number }; maskRuleSets: string[]; policies: string[] }
  | { type: "deny"; reason: string; policies: string[] };

interface Simulated {
  request: { action: string; kind: string; tables: string[]; functions: string[]; text: string };
  upstream?: { userCode: string | null; unread?: string };
  simulation: {
    verdict: Verdict;
    policyVersion: string | null;
    determining: { id: string; effect: "permit" | "forbid"; line?: number }[];
    errors: { policy: string; message: string; line?: number }[];
    explanation: string;
    elapsedMs: number | null;
  };
}

const ACTIONS = ["connect", "read", "write", "ddl", "admin", "exec", "http", "tool"];
const KINDS = ["read", "write", "ddl", "admin", "unknown"];
const ORIGINS = ["native", "web-console", "mcp"];

function versionNumber(text: string, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) throw new UsageError(`${what}: '${text}' is not a version number (1, 2, ...)`);
  return Number(text);
}

function oneOf(value: string | undefined, allowed: string[], option: string): string | undefined {
  if (value !== undefined && !allowed.includes(value)) throw new UsageError(`${option} must be one of ${allowed.join(", ")}`);
  return value;
}

/** "rules.cedar:12:5: error: message [policy-id]" — the shape editors and CI logs understand. */
function problemLine(file: string, p: Problem): string {
  const where = [file, p.line, p.line !== undefined ? p.column : undefined].filter((x) => x !== undefined).join(":");
  return `${where}: ${p.severity}: ${p.message}${p.policy ? ` [${p.policy}]` : ""}${p.help ? `\n    help: ${p.help}` : ""}`;
}

const get: Command = {
  name: "get",
  aliases: ["show"],
  summary: "print the Cedar text of the current (or a given) policy version",
  usage: "get [--version N]",
  help: `  --version N   an earlier version (see 'policies versions'); default the current one

Without --json, stdout is the policy text (the version line goes to stderr), so
'gatehouse policies get > policies.cedar' gives a file 'policies apply' takes back. Control
characters in it are shown as \\xNN (as every text the CLI prints); --json has it exactly.`,
  options: { version: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const v = str(args.values, "version");
    const n = v === undefined ? undefined : versionNumber(v, "--version");
    const api = ctx.api();
    let res: unknown;
    let row: PolicyVersion | null;
    if (n === undefined) {
      const cur = await api.get<{ policy: PolicyVersion | null; loadedVersion: string | null }>("/policies");
      res = cur;
      row = cur.policy;
    } else {
      const one = await api.get<{ version: PolicyVersion; diff: unknown }>(`/policies/versions/${n}`);
      res = one;
      row = one.version;
    }
    if (!row) throw new CliError("NOT_FOUND", "no policy version has been saved yet");
    ctx.out.result(res, () => {
      ctx.out.note(`# policy version ${row.version}, ${formatTime(row.createdAt)}${row.authorEmail ? ` by ${row.authorEmail}` : ""}${row.comment ? `: ${row.comment}` : ""}`);
      // Through the terminal-safe Output like everything else printed: policy text is stored as an
      // admin (or an agent with policies:write) sent it, and Cedar accepts escape sequences in its
      // comments and strings. Line breaks and tabs stay, so the text round-trips through a file.
      ctx.out.line(row.text.replace(/\r\n/g, "\n").replace(/\n$/, ""));
    });
  },
};

const apply: Command = {
  name: "apply",
  summary: "validate a Cedar file and save it as the new policy version",
  usage: "apply FILE.cedar [--comment C] [--dry-run]",
  help: `  FILE.cedar    the whole policy set ('-' reads stdin); it replaces the current one
  --comment C   why, kept with the version (see 'policies versions')
  --dry-run     validate and list what it would end among the live sessions; save nothing

The file is validated first; problems are printed as FILE:LINE:COLUMN and nothing is saved
(exit 1) unless it validates. What stays open (sessions, shells, forwards) is decided again under
the new version: the live sessions it would end are listed before it is saved.`,
  options: { comment: { type: "string" }, "dry-run": { type: "boolean" } },
  async run(ctx, args) {
    const [file] = positionals(args, "FILE.cedar");
    const comment = str(args.values, "comment");
    const dryRun = flag(args.values, "dry-run");
    const text = file === "-" ? await ctx.readStdin() : readPolicyFile(file);
    if (!text.trim()) throw new CliError("INVALID", `${file === "-" ? "stdin" : file} is empty; a policy set needs at least one policy`);
    const api = ctx.api();
    const check = await api.post<Validation>("/policies/validate", { text });
    const label = file === "-" ? "<stdin>" : file;
    if (!check.ok) {
      // Like `audit verify`: the problems are the result (stdout), the failure is also an error (stderr).
      ctx.out.result(check, () => {
        for (const p of [...check.errors, ...check.warnings]) ctx.out.line(problemLine(label, p));
      });
      const first = check.errors[0];
      throw new CliError(
        "INVALID",
        `${label} does not validate (${check.errors.length} error${check.errors.length === 1 ? "" : "s"}${first?.line ? `, first at line ${first.line}` : ""}); nothing was applied`,
        1,
        { errors: check.errors },
      );
    }
    for (const w of check.warnings) ctx.out.note(problemLine(label, w));
    const preview = api.post<Impact>("/policies/impact", { text });
    if (dryRun) {
      const impact = await preview;
      ctx.out.result({ validation: check, impact }, () => {
        ctx.out.line(`${label} validates (${check.policies.length} polic${check.policies.length === 1 ? "y" : "ies"}); nothing was applied`);
        for (const l of impactLines(impact)) ctx.out.line(l);
      });
      return;
    }
    // The list informs; it does not gate the save.
    const impact = await preview.catch((err: Error) => err);
    if (impact instanceof Error) ctx.out.note(`could not list what this version ends among the live sessions: ${impact.message}`);
    else for (const l of impactLines(impact)) ctx.out.note(l);
    const saved = await api.put<Saved>("/policies", { text, ...(comment !== undefined ? { comment } : {}) });
    ctx.out.result(saved, () => ctx.out.line(`applied ${label} as policy version ${saved.version} (${check.policies.length} polic${check.policies.length === 1 ? "y" : "ies"})`));
  },
};

/** What a policy text would end among the live sessions (POST /policies/impact). */
interface Impact {
  items: { sessionId: string; user: string; chain: string[]; connection: string; protocol: string; what: string; reason: string }[];
  previewed: number;
  elsewhere: number;
}

function impactLines(impact: Impact): string[] {
  const elsewhere = impact.elsewhere ? ` (${impact.elsewhere} in Gatehouse processes that did not answer, not previewed)` : "";
  if (!impact.items.length) return [`ends none of the ${impact.previewed} live session(s)${elsewhere}`];
  return [
    `ends ${impact.items.length} live session(s) or what runs in them${elsewhere}:`,
    ...impact.items.map((i) => `  ${i.sessionId}  ${i.chain.join(" > ") || i.user} on ${i.connection} (${i.protocol}): ${i.what} -- ${i.reason}`),
  ];
}

function readPolicyFile(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError("INVALID", `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const versions: Command = {
  name: "versions",
  aliases: ["history"],
  summary: "list saved policy versions, newest first",
  usage: "versions",
  async run(ctx, args) {
    positionals(args);
    const res = await ctx.api().get<{ versions: Omit<PolicyVersion, "text">[] }>("/policies/versions");
    ctx.out.result(res, () =>
      ctx.out.table(
        res.versions,
        [
          { header: "VERSION", value: (v) => (v === res.versions[0] ? `${v.version} (current)` : v.version) },
          { header: "SAVED", value: (v) => formatTime(v.createdAt) },
          { header: "AUTHOR", value: (v) => v.authorEmail },
          { header: "COMMENT", value: (v) => v.comment },
        ],
        "no policy versions",
      ),
    );
  },
};

const rollback: Command = {
  name: "rollback",
  summary: "make an earlier version current again (saved as a new version)",
  usage: "rollback N",
  async run(ctx, args) {
    const [v] = positionals(args, "N");
    const version = versionNumber(v, "N");
    const res = await ctx.api().post<Saved>("/policies/rollback", { version });
    ctx.out.result(res, () => ctx.out.line(`rolled back to version ${version}: saved as policy version ${res.version}`));
  },
};

const test: Command = {
  name: "test",
  aliases: ["simulate"],
  summary: "what would the policies decide for this request? (exit 0 whatever the verdict)",
  usage: "test (--principal EMAIL | --token ID) --connection NAME [--statement TEXT | --action A --kind K] [--agents a,b] [--origin native|web-console|mcp]",
  help: `  --principal EMAIL   the user making the request
  --token ID          or: an existing token (id from 'tokens list'): its delegation chain, scope and grants
  --connection NAME   the target connection (its type picks the classifier, its tags feed the policy)
  --statement TEXT    SQL, a shell command, 'GET /path' ...; classified like the gateway would
  --action A          instead of a statement: ${ACTIONS.join(", ")}
  --kind K            ${KINDS.join(", ")}
  --agents a,b        agents acting for the user (or below the token's actor), outermost last
  --origin O          native (default), web-console or mcp

With neither --statement nor --action, the request is a connect. The access grants that would
hold are taken into account: the user's own, and with --token those its chain obtained (a grant
an agent obtained holds for that agent's token and the agents below it only). The policies are
evaluated fresh. Members simulate as themselves and their own tokens only.`,
  options: {
    principal: { type: "string" },
    token: { type: "string" },
    connection: { type: "string" },
    statement: { type: "string" },
    action: { type: "string" },
    kind: { type: "string" },
    agents: { type: "string" },
    origin: { type: "string" },
  },
  async run(ctx, args) {
    positionals(args);
    const principal = str(args.values, "principal");
    const token = str(args.values, "token");
    const connection = str(args.values, "connection");
    if (!principal && !token) throw new UsageError("--principal EMAIL or --token ID is required");
    if (!connection) throw new UsageError("--connection NAME is required");
    const statement = str(args.values, "statement");
    const action = oneOf(str(args.values, "action"), ACTIONS, "--action");
    const kind = oneOf(str(args.values, "kind"), KINDS, "--kind");
    const origin = oneOf(str(args.values, "origin"), ORIGINS, "--origin");
    const agents = str(args.values, "agents");
    if (statement !== undefined && (action !== undefined || kind !== undefined)) {
      throw new UsageError("give either --statement (classified by the server) or --action/--kind, not both");
    }
    const body = {
      ...(principal !== undefined ? { principal } : {}),
      ...(token !== undefined ? { token } : {}),
      connection,
      ...(statement !== undefined ? { statement } : {}),
      ...(action !== undefined ? { action } : {}),
      ...(kind !== undefined ? { kind } : {}),
      ...(agents !== undefined ? { agents: parseList(agents) } : {}),
      ...(origin !== undefined ? { origin } : {}),
    };
    const res = await ctx.api().post<Simulated>("/policies/simulate", body);
    ctx.out.result(res, () => printSimulation(ctx, res));
    return 0;
  },
};

function printSimulation(ctx: Context, res: Simulated): void {
  const { verdict: v, determining, errors, explanation, policyVersion } = res.simulation;
  const r = res.request;
  const pairs: [string, unknown][] = [
    ["verdict", v.type],
    ["explanation", explanation],
    ["request", `${r.action} (kind ${r.kind})${r.tables?.length ? ` on ${r.tables.join(", ")}` : ""}`],
    ...(res.upstream?.userCode ? ([["unknown because", res.upstream.userCode]] as [string, unknown][]) : []),
    ...(res.upstream?.unread ? ([["catalog", res.upstream.unread]] as [string, unknown][]) : []),
    ["deciding", determining.length ? determining.map((p) => `${p.id} (${p.effect}${p.line ? `, line ${p.line}` : ""})`).join("; ") : "-"],
  ];
  if (v.type === "hold") {
    const { approverGroups, minApprovals } = v.requirement;
    pairs.push(["approval", `${minApprovals} approval${minApprovals === 1 ? "" : "s"} from ${approverGroups.join(" or ")}`]);
  }
  if (v.type === "mask") pairs.push(["masking", v.ruleSets]);
  if (v.type === "hold" && v.maskRuleSets.length) pairs.push(["masking", v.maskRuleSets]);
  if (v.type === "deny") pairs.push(["reason", v.reason]);
  pairs.push(["policy version", policyVersion]);
  ctx.out.fields(pairs);
  for (const e of errors) ctx.out.line(`error in ${e.policy}${e.line ? ` (line ${e.line})` : ""}: ${e.message}`);
}

export const policies: Group = {
  name: "policies",
  summary: "Cedar access policies: view, apply, version, simulate",
  commands: [get, apply, versions, rollback, test],
};
