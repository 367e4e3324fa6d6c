"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { signOut } from "next-auth/react";

export function Nav({ items, email, role }: { items: { href: string; label: string }[]; email: string; role: string }) {
  const path = usePathname();
  return (
    <nav className="flex w-56 shrink-0 flex-col border-r border-slate-200 bg-white">
      <div className="px-4 py-4 text-lg font-semibold text-brand">Gatehouse</div>
      <ul className="flex-1 space-y-0.5 px-2">
        {items.map((i) => (
          <li key={i.href}>
            <Link href={i.href} className={`block rounded-md px-3 py-1.5 text-sm ${path.startsWith(i.href) ? "bg-brand/10 font-medium text-brand" : "text-slate-700 hover:bg-slate-100"}`}>
              {i.label}
            </Link>
          </li>
        ))}
      </ul>
      <div className="border-t border-slate-200 p-3 text-xs text-slate-600">
        <div className="truncate" data-testid="whoami">{email}</div>
        <div className="mb-2 uppercase tracking-wide">{role}</div>
        <button className="text-brand underline" onClick={() => signOut({ callbackUrl: "/login" })}>
          Sign out
        </button>
      </div>
    </nav>
  );
}
