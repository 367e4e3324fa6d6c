"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "@/components/api";
import { Badge, Button, Card, ErrorText, Field, Input, PageHeader, Select, Table } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";

interface TokenRow {
  id: string;
  parentTokenId: string | null;
  name: string;
  kind: string;
  depth: number;
  chain: { kind: string; name: string }[];
  scopeConnections: string[];
  scopeActions: string[];
  expiresAt: string;
  revokedAt: string | null;
  createdAt: string;
}

const TTL = [
  ["1 hour", 3600],
  ["1 day", 86400],
  ["7 days", 7 * 86400],
  ["30 days", 30 * 86400],
  ["90 days", 90 * 86400],
] as const;

export function TokensClient() {
  const qc = useQueryClient();
  const tokens = useQuery({ queryKey: ["tokens"], queryFn: () => api<{ tokens: TokenRow[] }>("/tokens").then((r) => r.tokens) });
  const [minted, setMinted] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: unknown) => api<{ token: string }>("/tokens", { method: "POST", body }),
    onSuccess: (r) => {
      setMinted(r.token);
      void qc.invalidateQueries({ queryKey: ["tokens"] });
    },
  });
  const revoke = useMutation({ mutationFn: (id: string) => api(`/tokens/${id}`, { method: "DELETE" }), onSuccess: () => qc.invalidateQueries({ queryKey: ["tokens"] }) });

  return (
    <div className="space-y-5">
      <PageHeader title="Agents & tokens" description="Gatehouse tokens are what clients present instead of upstream credentials: as a psql password, an SSH password, a bearer header. Revoking one ends every token delegated from it." />
      <Card title="Create a personal token">
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            const f = new FormData(e.currentTarget);
            const conns = String(f.get("connections") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
            create.mutate({ name: String(f.get("name")), ttlSeconds: Number(f.get("ttl")), connections: conns.length ? conns : ["*"] });
          }}
        >
          <div className="w-56"><Field label="Name"><Input name="name" placeholder="laptop, ci, my-agent" required /></Field></div>
          <Field label="Lifetime">
            <Select name="ttl" defaultValue={String(30 * 86400)}>
              {TTL.map(([l, s]) => <option key={s} value={s}>{l}</option>)}
            </Select>
          </Field>
          <div className="w-64"><Field label="Connections" hint="Comma separated; empty = all"><Input name="connections" /></Field></div>
          <Button type="submit" disabled={create.isPending}>Create token</Button>
        </form>
        <ErrorText error={create.error} />
        {minted && (
          <div className="mt-4 rounded-md border border-amber-300 bg-amber-50 p-3">
            <p className="text-sm font-medium">Copy this token now. It is shown once and stored only as a hash.</p>
            <code data-testid="minted-token" className="mt-2 block break-all rounded bg-white p-2 text-xs">{minted}</code>
          </div>
        )}
      </Card>
      <Card title="Your tokens and their delegations">
        <p className="mb-2 text-xs text-slate-500">Agents get child tokens by token exchange (<code>gatehouse tokens exchange --actor NAME</code>). A child never holds more than its parent; revoking a token revokes its whole branch and ends its live sessions.</p>
        <Table head={["Token", "Kind", "Chain", "Scope", "Expires", ""]}>
          {tree(tokens.data ?? []).map(({ t, depth }) => (
            <tr key={t.id} data-testid={`token-${t.name}`}>
              <td className="px-2 py-2 font-medium" style={{ paddingLeft: `${0.5 + depth * 1.25}rem` }}>
                {depth > 0 && <span className="text-slate-400">└ </span>}
                {t.name ? revealInvisible(t.name) : <span className="text-slate-400">(unnamed)</span>}
              </td>
              <td className="px-2 py-2"><Badge tone={t.kind === "delegated" ? "blue" : "slate"}>{t.kind}</Badge></td>
              <td className="px-2 py-2 text-xs">{revealInvisible(t.chain.map((a) => a.name).join(" → "))}</td>
              <td className="px-2 py-2 text-xs">{t.scopeConnections.join(", ")} · {t.scopeActions.join(", ")}</td>
              <td className="px-2 py-2 text-xs">{new Date(t.expiresAt).toLocaleString()}</td>
              <td className="px-2 py-2 text-right">
                <Button variant="ghost" className="text-red-700" onClick={() => revoke.mutate(t.id)}>{t.kind === "delegated" || tokens.data?.some((c) => c.parentTokenId === t.id) ? "Revoke branch" : "Revoke"}</Button>
              </td>
            </tr>
          ))}
        </Table>
        <ErrorText error={tokens.error ?? revoke.error} />
      </Card>
    </div>
  );
}

/** Depth-first order of the delegation tree: each token followed by the tokens exchanged from it. */
function tree(rows: TokenRow[]): { t: TokenRow; depth: number }[] {
  const ids = new Set(rows.map((r) => r.id));
  const children = new Map<string | null, TokenRow[]>();
  for (const r of rows) {
    const parent = r.parentTokenId && ids.has(r.parentTokenId) ? r.parentTokenId : null;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const out: { t: TokenRow; depth: number }[] = [];
  const walk = (parent: string | null, depth: number) => {
    for (const t of children.get(parent) ?? []) {
      out.push({ t, depth });
      walk(t.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}
