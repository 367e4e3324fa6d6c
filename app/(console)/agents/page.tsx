import { requirePage } from "@/lib/auth/page";
import { TokensClient } from "./client";

export default async function AgentsPage() {
  await requirePage("tokens:own", "/agents");
  return <TokensClient />;
}
