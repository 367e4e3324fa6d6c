interface EventLike {
  kind: string;
  payload: Record<string, unknown>;
}

/**
 * A request's verdict (`verdict`, `policies`, `reason`): recorded on the request event itself, or,
 * in recordings made before that, as a `verdict` event referring to it (`requestSeq`). Pure: the
 * console's timelines use it in the browser too.
 */
export function requestVerdict(request: EventLike, related: readonly EventLike[]): Record<string, unknown> | undefined {
  if (typeof request.payload.verdict === "string") return request.payload;
  return related.find((r) => r.kind === "verdict")?.payload;
}
