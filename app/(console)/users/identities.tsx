"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/components/api";
import { Button, ErrorText } from "@/components/ui";
import { revealInvisible } from "@/lib/util/reveal-invisible";

interface Identity { issuer: string; subject: string; createdAt: string }

/**
 * The identity-provider identities linked to one user, with Unlink for admins. Unlinking ends the
 * console sessions signed in through that identity and the tokens exchanged through it (the server
 * says how many tokens).
 */
export function LinkedIdentities({ userId, email, canWrite }: { userId: string; email: string; canWrite: boolean }) {
  const qc = useQueryClient();
  const key = ["users", userId, "identities"];
  const list = useQuery({ queryKey: key, queryFn: () => api<{ identities: Identity[] }>(`/users/${userId}/identities`).then((r) => r.identities) });
  const unlink = useMutation({
    mutationFn: (i: Identity) => api<{ revokedTokens: number }>(`/users/${userId}/identities`, { method: "DELETE", body: { issuer: i.issuer, subject: i.subject } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: key }),
  });
  if (list.isLoading) return <p className="text-xs text-slate-500">Loading…</p>;
  const rows = list.data ?? [];
  return (
    <div className="space-y-1 text-xs" data-testid={`identities-${email}`}>
      {rows.length === 0 && !list.error && <p className="text-slate-500">No linked identities.</p>}
      {rows.map((i) => (
        <div key={`${i.issuer} ${i.subject}`} className="flex items-center gap-2">
          <code className="truncate" title={i.issuer}>{revealInvisible(i.issuer)}</code>
          <span className="text-slate-400">·</span>
          <code className="truncate">{revealInvisible(i.subject)}</code>
          {canWrite && (
            <Button
              variant="danger"
              aria-label={`unlink ${i.subject} from ${email}`}
              disabled={unlink.isPending}
              onClick={() => {
                if (window.confirm(`Unlink ${i.subject} from ${email}? The console sessions signed in through it and the tokens exchanged through it end.`)) unlink.mutate(i);
              }}
            >
              Unlink
            </Button>
          )}
        </div>
      ))}
      {unlink.data && <p className="text-slate-600" role="status">Unlinked; {unlink.data.revokedTokens} token(s) revoked.</p>}
      <ErrorText error={list.error ?? unlink.error} />
    </div>
  );
}
