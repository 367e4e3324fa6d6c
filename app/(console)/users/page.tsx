import { can } from "@/lib/auth/authorize";
import { requirePage } from "@/lib/auth/page";
import { UsersClient } from "./client";

export default async function UsersPage() {
  const caller = await requirePage("users:read", "/users");
  return <UsersClient canWrite={can(caller, "users:write")} selfId={caller.userId} />;
}
