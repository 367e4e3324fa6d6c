import type { ChartSeries } from "@/components/charts/stacked-bars";
import { APPROVAL_OUTCOMES, SESSION_SERIES, VERDICTS } from "@/lib/api-types/stats";

type Of<T extends readonly string[]> = T[number];

export const SESSION_COLORS: ChartSeries<Of<typeof SESSION_SERIES>>[] = [
  { key: "postgres", label: "PostgreSQL", color: "#2563eb" },
  { key: "ssh", label: "SSH", color: "#0d9488" },
  { key: "mysql", label: "MySQL", color: "#ca8a04" },
  { key: "kubernetes", label: "Kubernetes", color: "#7c3aed" },
  { key: "http", label: "HTTP", color: "#64748b" },
  { key: "mcp", label: "MCP (agents)", color: "#db2777" },
  { key: "web-console", label: "Web console", color: "#ea580c" },
];
export const VERDICT_COLORS: ChartSeries<Of<typeof VERDICTS>>[] = [
  { key: "allow", label: "Allow", color: "#16a34a" },
  { key: "mask", label: "Mask", color: "#0284c7" },
  { key: "hold", label: "Hold", color: "#d97706" },
  { key: "deny", label: "Deny", color: "#dc2626" },
];
export const OUTCOME_COLORS: ChartSeries<Of<typeof APPROVAL_OUTCOMES>>[] = [
  { key: "approved", label: "Approved", color: "#16a34a" },
  { key: "denied", label: "Denied", color: "#dc2626" },
];

/** Bucket labels in UTC, as the buckets are cut: hours as 13:00, days as Nov 27. */
export function bucketLabel(unit: "hour" | "day") {
  const fmt = new Intl.DateTimeFormat("en", unit === "hour" ? { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "UTC" } : { month: "short", day: "numeric", timeZone: "UTC" });
  return (start: number) => fmt.format(new Date(start));
}

export function seconds(s: number | null): string {
  if (s === null) return "—";
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
