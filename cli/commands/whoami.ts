import { positionals } from "../args";
import type { Command } from "../command";

interface Me {
  id: string;
  email: string;
  role: string;
  groups: string[];
  via: string;
  chain?: { kind: string; name?: string }[];
}

export const whoami: Command = {
  name: "whoami",
  summary: "show who the current token belongs to",
  usage: "whoami",
  async run(ctx, args) {
    positionals(args);
    const api = ctx.api();
    const me = await api.get<Me>("/me");
    ctx.out.result(me, () =>
      ctx.out.fields([
        ["email", me.email],
        ["role", me.role],
        ["groups", me.groups],
        ["id", me.id],
        ["via", me.via],
        // A delegated (exchanged) token acts for a chain of principals; show who is behind it.
        ...(me.chain && me.chain.length > 1 ? ([["chain", me.chain.map((a) => `${a.kind}:${a.name ?? "?"}`).join(" -> ")]] as [string, unknown][]) : []),
        ["server", api.url],
      ]),
    );
  },
};
