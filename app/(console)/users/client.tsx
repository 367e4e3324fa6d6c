"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { api } from "@/components/api";
import { Badge, Button, Card, ErrorText, Field, Input, PageHeader, Select, Table } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";
import { LinkedIdentities } from "./identities";

interface UserRow { id: string; email: string; name: string; role: string; disabled: boolean; source: string; groups: string[] }
const ROLES = ["member", "approver", "auditor", "admin"];

export function UsersClient({ canWrite, selfId }: { canWrite: boolean; selfId: string }) {
  const qc = useQueryClient();
  const users = useQuery({ queryKey: ["users"], queryFn: () => api<{ users: UserRow[] }>("/users").then((r) => r.users) });
  const refresh = () => qc.invalidateQueries({ queryKey: ["users"] });
  const [invited, setInvited] = useState<{ email: string; password: string } | null>(null);
  const create = useMutation({
    mutationFn: (body: unknown) => api<{ user: { email: string; initialPassword?: string } }>("/users", { method: "POST", body }),
    onSuccess: (r) => {
      if (r.user.initialPassword) setInvited({ email: r.user.email, password: r.user.initialPassword });
      void refresh();
    },
  });
  const [opened, setOpened] = useState<string | null>(null);
  const update = useMutation({ mutationFn: ({ id, body }: { id: string; body: unknown }) => api(`/users/${id}`, { method: "PATCH", body }), onSuccess: refresh });

  return (
    <div className="space-y-5">
      <PageHeader title="Users" description="Roles: admin (everything), approver (decides approval requests), auditor (reads sessions and the audit log), member (connects). Disabling a user ends their console sessions, tokens and live gateway sessions." />
      {canWrite && (
        <Card title="Add a user">
          <form
            className="flex flex-wrap items-end gap-3"
            onSubmit={(e) => {
              e.preventDefault();
              const f = new FormData(e.currentTarget);
              create.mutate({
                email: f.get("email"),
                name: f.get("name"),
                role: f.get("role"),
                groups: String(f.get("groups") ?? "").split(",").map((s) => s.trim()).filter(Boolean),
              });
              e.currentTarget.reset();
            }}
          >
            <div className="w-64"><Field label="Email"><Input name="email" type="email" required /></Field></div>
            <div className="w-48"><Field label="Name"><Input name="name" /></Field></div>
            <Field label="Role"><Select name="role">{ROLES.map((r) => <option key={r}>{r}</option>)}</Select></Field>
            <div className="w-56"><Field label="Groups"><Input name="groups" placeholder="approvers, dba" /></Field></div>
            <Button type="submit">Add user</Button>
          </form>
          <ErrorText error={create.error} />
          {invited && (
            <p className="mt-3 rounded-md bg-amber-50 p-3 text-sm">
              Initial password for {invited.email} (shown once): <code data-testid="invite-password">{invited.password}</code>
            </p>
          )}
        </Card>
      )}
      <Card>
        <Table head={["Email", "Role", "Groups", "Status", ""]}>
          {(users.data ?? []).map((u) => (
            <Fragment key={u.id}>
              <tr data-testid={`user-${u.email}`}>
                <td className="px-2 py-2"><div className="font-medium">{u.email}</div><div className="text-xs text-slate-500">{revealInvisible(u.name)} · {u.source}</div></td>
                <td className="px-2 py-2">
                  {canWrite && u.id !== selfId ? (
                    <Select aria-label={`role of ${u.email}`} value={u.role} onChange={(e) => update.mutate({ id: u.id, body: { role: e.target.value } })}>
                      {ROLES.map((r) => <option key={r}>{r}</option>)}
                    </Select>
                  ) : <Badge>{u.role}</Badge>}
                </td>
                <td className="px-2 py-2">
                  {canWrite ? (
                    <Input
                      aria-label={`groups of ${u.email}`}
                      defaultValue={u.groups.join(", ")}
                      onBlur={(e) => {
                        const groups = e.target.value.split(",").map((s) => s.trim()).filter(Boolean);
                        if (groups.join(",") !== u.groups.join(",")) update.mutate({ id: u.id, body: { groups } });
                      }}
                    />
                  ) : u.groups.join(", ")}
                </td>
                <td className="px-2 py-2">{u.disabled ? <Badge tone="red">disabled</Badge> : <Badge tone="green">active</Badge>}</td>
                <td className="px-2 py-2 text-right">
                  <Button variant="ghost" aria-expanded={opened === u.id} onClick={() => setOpened(opened === u.id ? null : u.id)}>Identities</Button>
                  {canWrite && u.id !== selfId && (
                    <Button variant="ghost" onClick={() => update.mutate({ id: u.id, body: { disabled: !u.disabled } })}>{u.disabled ? "Enable" : "Disable"}</Button>
                  )}
                </td>
              </tr>
              {opened === u.id && (
                <tr>
                  <td colSpan={5} className="px-2 pb-3"><LinkedIdentities userId={u.id} email={u.email} canWrite={canWrite} /></td>
                </tr>
              )}
            </Fragment>
          ))}
        </Table>
        <ErrorText error={users.error ?? update.error} />
      </Card>
    </div>
  );
}
