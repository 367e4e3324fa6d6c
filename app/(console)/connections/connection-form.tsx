"use client";
import { useState } from "react";
import { Button, Field, Input, Select, Textarea } from "@/components/ui";
import type { PublicConnection } from "@/lib/services/connections/public";

export interface ConnectionFormValues {
  name: string;
  type: string;
  upstream: string;
  username: string;
  tags: string[];
  description: string;
  secret?: string;
}

const PLACEHOLDER: Record<string, string> = {
  postgres: "postgres://db.internal:5432/app",
  mysql: "mysql://db.internal:3306/app",
  ssh: "ssh://host.internal:22",
  kubernetes: "https://k8s.internal:6443",
  http: "http://service.internal:8080",
};

/** The secret field is write-only: it starts empty, and an empty field keeps the stored secret. */
export function ConnectionForm({ initial, busy, onSubmit, onCancel }: { initial: PublicConnection | null; busy: boolean; onSubmit: (v: ConnectionFormValues) => void; onCancel: () => void }) {
  const [type, setType] = useState(initial?.type ?? "postgres");
  return (
    <form
      className="grid grid-cols-2 gap-3"
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        const secret = String(f.get("secret") ?? "");
        onSubmit({
          name: String(f.get("name")),
          type,
          upstream: String(f.get("upstream")),
          username: String(f.get("username") ?? ""),
          tags: String(f.get("tags") ?? "").split(",").map((t) => t.trim()).filter(Boolean),
          description: String(f.get("description") ?? ""),
          ...(secret ? { secret } : {}),
        });
      }}
    >
      <Field label="Name" hint="Clients use it as database name / SSH user">
        <Input name="name" defaultValue={initial?.name} required pattern="[a-z0-9]([a-z0-9_\-]*[a-z0-9])?" />
      </Field>
      <Field label="Type">
        <Select name="type" value={type} onChange={(e) => setType(e.target.value as never)} className="w-full">
          {Object.keys(PLACEHOLDER).map((t) => <option key={t} value={t}>{t}</option>)}
        </Select>
      </Field>
      <Field label="Upstream address">
        <Input name="upstream" defaultValue={initial?.upstream} placeholder={PLACEHOLDER[type]} required />
      </Field>
      <Field label="Upstream user">
        <Input name="username" defaultValue={initial?.username} />
      </Field>
      <Field label="Tags" hint="Comma separated, e.g. prod,pii">
        <Input name="tags" defaultValue={initial?.tags.join(", ")} />
      </Field>
      <Field label="Credential" hint={initial?.hasSecret ? "A credential is stored. Leave empty to keep it." : "Password, private key or token. Stored encrypted; never shown again."}>
        <Textarea name="secret" rows={2} autoComplete="off" placeholder={initial?.hasSecret ? "•••••• (unchanged)" : ""} />
      </Field>
      <div className="col-span-2">
        <Field label="Description">
          <Input name="description" defaultValue={initial?.description} />
        </Field>
      </div>
      <div className="col-span-2 flex gap-2">
        <Button type="submit" disabled={busy}>{busy ? "Saving…" : "Save"}</Button>
        <Button type="button" variant="secondary" onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}
