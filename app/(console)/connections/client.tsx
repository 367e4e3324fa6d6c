"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api } from "@/components/api";
import { Badge, Button, Card, ErrorText, PageHeader, Table } from "@/components/ui";
import type { PublicConnection } from "@/lib/services/connections/public";
import { ConnectionForm, type ConnectionFormValues } from "./connection-form";

export function ConnectionsClient({ initial, canWrite }: { initial: PublicConnection[]; canWrite: boolean }) {
  const qc = useQueryClient();
  const { data } = useQuery({
    queryKey: ["connections"],
    queryFn: () => api<{ connections: PublicConnection[] }>("/connections").then((r) => r.connections),
    initialData: initial,
  });
  const [editing, setEditing] = useState<PublicConnection | "new" | null>(null);
  const invalidate = () => qc.invalidateQueries({ queryKey: ["connections"] });

  const save = useMutation({
    mutationFn: (v: ConnectionFormValues) =>
      editing === "new" ? api("/connections", { method: "POST", body: v }) : api(`/connections/${(editing as PublicConnection).id}`, { method: "PATCH", body: v }),
    onSuccess: () => {
      setEditing(null);
      void invalidate();
    },
  });
  const remove = useMutation({ mutationFn: (id: string) => api(`/connections/${id}`, { method: "DELETE" }), onSuccess: invalidate });

  return (
    <div className="space-y-5">
      <PageHeader
        title="Connections"
        description="Upstream databases, hosts, clusters and HTTP services. Clients reach them only through Gatehouse; credentials never leave the server."
        actions={canWrite && <Button onClick={() => setEditing("new")}>New connection</Button>}
      />
      {editing && (
        <Card title={editing === "new" ? "New connection" : `Edit ${editing.name}`}>
          <ConnectionForm
            initial={editing === "new" ? null : editing}
            busy={save.isPending}
            onCancel={() => setEditing(null)}
            onSubmit={(v) => save.mutate(v)}
          />
          <ErrorText error={save.error} />
        </Card>
      )}
      <Card>
        <Table head={["Name", "Type", "Upstream", "Tags", "Credential", ""]}>
          {data.map((c) => (
            <tr key={c.id} data-testid={`connection-${c.name}`}>
              <td className="px-2 py-2 font-medium">{c.name}</td>
              <td className="px-2 py-2"><Badge tone="blue">{c.type}</Badge></td>
              <td className="px-2 py-2 font-mono text-xs">{c.upstream}</td>
              <td className="px-2 py-2 space-x-1">{c.tags.map((t) => <Badge key={t}>{t}</Badge>)}</td>
              <td className="px-2 py-2">{c.hasSecret ? <Badge tone="green">stored, encrypted</Badge> : <Badge>none</Badge>}</td>
              <td className="px-2 py-2 text-right space-x-1">
                {c.type === "ssh" && (
                  <Link className="inline-block rounded-md px-3 py-1.5 text-sm font-medium text-brand hover:bg-slate-100" href={`/connections/${encodeURIComponent(c.name)}/terminal`}>Open terminal</Link>
                )}
                {c.type === "postgres" && (
                  <Link className="inline-block rounded-md px-3 py-1.5 text-sm font-medium text-brand hover:bg-slate-100" href={`/connections/${encodeURIComponent(c.name)}/sql`}>Open SQL console</Link>
                )}
                {canWrite && (
                  <>
                    <Button variant="ghost" onClick={() => setEditing(c)}>Edit</Button>
                    <Button variant="ghost" className="text-red-700" onClick={() => confirm(`Delete connection ${c.name}?`) && remove.mutate(c.id)}>Delete</Button>
                  </>
                )}
              </td>
            </tr>
          ))}
          {data.length === 0 && (
            <tr><td colSpan={6} className="px-2 py-6 text-center text-slate-500">No connections yet.</td></tr>
          )}
        </Table>
        <ErrorText error={remove.error} />
      </Card>
    </div>
  );
}
