import type { ReactNode } from "react";
import { redirect } from "next/navigation";
import { can, type Permission } from "@/lib/auth/authorize";
import { callerFromServerComponent } from "@/lib/auth/session";
import { Nav } from "./nav";

export const dynamic = "force-dynamic";

const ITEMS: { href: string; label: string; permission: Permission }[] = [
  { href: "/overview", label: "Overview", permission: "sessions:read-own" },
  { href: "/sessions", label: "Sessions", permission: "sessions:read-own" },
  { href: "/approvals", label: "Approvals", permission: "approvals:read" },
  { href: "/policies", label: "Policies", permission: "policies:read" },
  { href: "/masking", label: "Masking", permission: "masking:read" },
  { href: "/connections", label: "Connections", permission: "connections:read" },
  { href: "/agents", label: "Agents & tokens", permission: "tokens:own" },
  { href: "/ssh-keys", label: "SSH keys", permission: "ssh-keys:own" },
  { href: "/audit", label: "Audit", permission: "audit:read" },
  { href: "/users", label: "Users", permission: "users:read" },
];

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const caller = await callerFromServerComponent();
  if (!caller) redirect("/login");
  const items = ITEMS.filter((i) => can(caller, i.permission)).map(({ href, label }) => ({ href, label }));
  return (
    <div className="flex min-h-full">
      <Nav items={items} email={caller.email} role={caller.role} />
      <main className="flex-1 overflow-x-auto p-6">{children}</main>
    </div>
  );
}
