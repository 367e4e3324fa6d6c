"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "@/components/api";
import { Badge, Button, Card, ErrorText, Field, Input, PageHeader, Table, Textarea } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";

export interface SshKeyRow {
  id: string;
  name: string;
  algorithm: string;
  fingerprint: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const PRIVATE = /PRIVATE KEY|PuTTY-User-Key-File/;

export function SshKeysClient({ initial }: { initial: SshKeyRow[] }) {
  const qc = useQueryClient();
  const keys = useQuery({ queryKey: ["ssh-keys"], queryFn: () => api<{ keys: SshKeyRow[] }>("/ssh-keys").then((r) => r.keys), initialData: initial });
  const [publicKey, setPublicKey] = useState("");
  const [name, setName] = useState("");
  const [localError, setLocalError] = useState<string | null>(null);
  const invalidate = () => qc.invalidateQueries({ queryKey: ["ssh-keys"] });
  const add = useMutation({
    mutationFn: (body: { publicKey: string; name?: string }) => api<{ key: SshKeyRow }>("/ssh-keys", { method: "POST", body }),
    onSuccess: () => {
      setPublicKey("");
      setName("");
      void invalidate();
    },
  });
  const remove = useMutation({ mutationFn: (id: string) => api(`/ssh-keys/${id}`, { method: "DELETE" }), onSuccess: invalidate });
  const pastedPrivate = PRIVATE.test(publicKey);

  return (
    <div className="space-y-5">
      <PageHeader
        title="SSH keys"
        description="Public keys registered here log you in to the SSH gateway (ssh -p 2222 CONNECTION@gatehouse) instead of a token."
      />
      <Card title="Add a key">
        <form
          className="space-y-3"
          onSubmit={(e) => {
            e.preventDefault();
            add.reset();
            // Refused before sending: a private key must not leave the browser.
            if (pastedPrivate) return setLocalError("That is a private key; it was not sent. Paste the public key (the .pub file) instead.");
            setLocalError(null);
            add.mutate({ publicKey, ...(name.trim() ? { name: name.trim() } : {}) });
          }}
        >
          <Field label="Public key" hint="One line from your .pub file, e.g. `cat ~/.ssh/id_ed25519.pub`. Accepted: ed25519, ECDSA, RSA ≥ 2048 bits.">
            <Textarea
              name="publicKey"
              rows={3}
              required
              spellCheck={false}
              value={publicKey}
              onChange={(e) => setPublicKey(e.target.value)}
              placeholder="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... you@laptop"
            />
          </Field>
          {pastedPrivate && <p role="alert" className="text-sm text-red-700">This looks like a private key. Never paste it anywhere; use the matching .pub file.</p>}
          <div className="flex items-end gap-3">
            <div className="w-72"><Field label="Name" hint="Optional; defaults to the key's comment"><Input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="laptop" maxLength={100} /></Field></div>
            <Button type="submit" disabled={add.isPending || !publicKey.trim()}>Add key</Button>
          </div>
        </form>
        <ErrorText error={localError ?? add.error} />
      </Card>
      <Card title="Your keys">
        <Table head={["Name", "Type", "Fingerprint", "Added", "Last used", ""]}>
          {keys.data.map((k) => (
            <tr key={k.id} data-testid={`ssh-key-${k.fingerprint}`}>
              <td className="px-2 py-2 font-medium">{revealInvisible(k.name)}</td>
              <td className="px-2 py-2"><Badge tone="blue">{k.algorithm}</Badge></td>
              <td className="px-2 py-2 font-mono text-xs">{k.fingerprint}</td>
              <td className="px-2 py-2 text-xs">{new Date(k.createdAt).toLocaleString()}</td>
              <td className="px-2 py-2 text-xs">{k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : <span className="text-slate-400">never</span>}</td>
              <td className="px-2 py-2 text-right">
                <Button variant="ghost" className="text-red-700" disabled={remove.isPending} onClick={() => confirm(`Delete SSH key "${k.name}" (${k.fingerprint})? Logins with it stop working.`) && remove.mutate(k.id)}>
                  Delete
                </Button>
              </td>
            </tr>
          ))}
        </Table>
        {!keys.data.length && <p className="py-3 text-sm text-slate-500">No keys yet. Until you add one, use a token as the SSH password.</p>}
        <ErrorText error={keys.error ?? remove.error} />
      </Card>
    </div>
  );
}
