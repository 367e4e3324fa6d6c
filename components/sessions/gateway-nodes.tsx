"use client";
import { useQuery } from "@tanstack/react-query";
import { api } from "@/components/api";
import { Badge, Card, Table } from "@/components/ui";

interface GatewayNode {
  nodeId: string;
  startedAt: string;
  lastSeen: string;
  silentSeconds: number;
  liveSessions: number;
  gone: boolean;
}

/**
 * The Gatehouse processes sharing this PostgreSQL and how recently each renewed its heartbeat;
 * a process silent for too long is gone and its sessions were ended. Shown only when there are
 * such processes (not on the embedded database).
 */
export function GatewayNodes() {
  // No processes listed: the embedded database (one process, no heartbeats); stop asking.
  const q = useQuery({ queryKey: ["nodes"], queryFn: () => api<{ nodes: GatewayNode[]; goneAfterSeconds: number }>("/nodes"), refetchInterval: (query) => (query.state.data?.nodes.length ? 5_000 : false) });
  const nodes = q.data?.nodes ?? [];
  if (!nodes.length) return null;
  return (
    <Card title={`Gateway processes (${nodes.filter((n) => !n.gone).length} running)`}>
      <Table head={["Process", "Started", "Last heartbeat", "Live sessions", "Status"]}>
        {nodes.map((n) => (
          <tr key={n.nodeId} data-testid={`node-${n.nodeId}`}>
            <td className="px-2 py-2 font-mono text-xs">{n.nodeId}</td>
            <td className="px-2 py-2 text-xs whitespace-nowrap">{new Date(n.startedAt).toLocaleString()}</td>
            <td className="px-2 py-2 text-xs tabular-nums">{n.silentSeconds}s ago</td>
            <td className="px-2 py-2 text-xs tabular-nums">{n.liveSessions}</td>
            <td className="px-2 py-2" title={n.gone ? `silent for more than ${q.data!.goneAfterSeconds}s: its sessions were ended` : undefined}>
              <Badge tone={n.gone ? "red" : "green"}>{n.gone ? "gone" : "running"}</Badge>
            </td>
          </tr>
        ))}
      </Table>
    </Card>
  );
}
