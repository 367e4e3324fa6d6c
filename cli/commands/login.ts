import { parseDuration, positionals, str, UsageError } from "../args";
import type { Command, Context } from "../command";
import { saveLogin } from "../credentials";
import { ApiClient } from "../http";
import { formatTime } from "../output";

interface LoginResponse {
  token: string;
  id: string;
  expiresAt: string;
}

export const login: Command = {
  name: "login",
  summary: "log in with email and password; stores and prints a token",
  usage: "login --email E [--password P | --password -] [--ttl 12h] [--url U]",
  help: `  --email E       account email
  --password P    the password; '-' reads it from stdin; default: $GATEHOUSE_PASSWORD
  --ttl D         token lifetime: 3600, 90m, 12h, 7d (server default 12h, max 7d)
  The token is saved to ~/.config/gatehouse/credentials.json (mode 0600) under the server URL.`,
  options: { email: { type: "string" }, password: { type: "string" }, ttl: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const email = str(args.values, "email");
    if (!email) throw new UsageError("--email is required");
    const password = await passwordFrom(ctx, str(args.values, "password"));
    const ttl = str(args.values, "ttl");
    const { url } = ctx.target();
    const res = await new ApiClient(url, undefined).post<LoginResponse>("/login", { email, password, ...(ttl ? { ttlSeconds: parseDuration(ttl, "--ttl") } : {}) }, { auth: false });
    const file = saveLogin(url, { token: res.token, id: res.id, email: email.trim().toLowerCase(), expiresAt: res.expiresAt });
    ctx.out.result({ token: res.token, id: res.id, expiresAt: res.expiresAt, url }, () => {
      ctx.out.line(res.token);
      ctx.out.note(`logged in to ${url} as ${email}; token saved to ${file} (expires ${formatTime(res.expiresAt)})`);
    });
  },
};

async function passwordFrom(ctx: Context, flagValue: string | undefined): Promise<string> {
  // Prefer stdin or the environment over argv: argv is visible to every user via ps.
  const password = flagValue === "-" ? await ctx.readStdin() : (flagValue ?? ctx.env.GATEHOUSE_PASSWORD);
  if (!password) throw new UsageError("give the password with --password P, --password - (stdin) or GATEHOUSE_PASSWORD");
  return password;
}
