import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { SessionsClient, type SessionFilters } from "./client";

const FILTER_KEYS: (keyof SessionFilters)[] = ["q", "status", "protocol", "connection", "user"];

export default async function SessionsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const caller = await requirePage("sessions:read-own", "/sessions");
  const sp = await searchParams;
  // Filters come from the address (bookmarks, links from other pages); the client keeps it in sync.
  const initial = Object.fromEntries(FILTER_KEYS.map((k) => [k, typeof sp[k] === "string" ? sp[k].slice(0, 200) : ""])) as Record<keyof SessionFilters, string>;
  return <SessionsClient all={can(caller, "sessions:read-all")} initial={initial} />;
}
