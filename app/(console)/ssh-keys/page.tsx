import { getDb } from "@/db/client";
import { listSshKeys } from "@/db/queries/ssh-keys";
import { requirePage } from "@/lib/auth/page";
import { SshKeysClient } from "./client";

export default async function SshKeysPage() {
  const caller = await requirePage("ssh-keys:own", "/ssh-keys");
  const keys = await listSshKeys(await getDb(), caller.userId);
  return <SshKeysClient initial={keys.map((k) => ({ ...k, createdAt: k.createdAt.toISOString(), lastUsedAt: k.lastUsedAt?.toISOString() ?? null }))} />;
}
