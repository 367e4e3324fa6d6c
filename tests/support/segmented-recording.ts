/**
 * The rules asciinema-player 3.17 enforces on a segmented recording (index version 1 and its
 * segments: see validateIndex / normalizeSegment in its core), so tests catch a window the
 * player would refuse — it refuses the whole recording over one bad event — without a browser.
 */
export interface PlayerIndexLike {
  version: number;
  duration: number;
  term: { cols: number; rows: number };
  segments: { start: number; url: string }[];
  markers?: [number, string][];
}
export interface PlayerSegmentLike {
  snapshot: { cols: number; rows: number; init: string };
  events: [number, string, unknown][];
}

function check(ok: boolean, message: string) {
  if (!ok) throw new Error(`player would refuse: ${message}`);
}

const size = (t: { cols: number; rows: number } | undefined, what: string) => check(!!t && Number.isInteger(t.cols) && t.cols > 0 && Number.isInteger(t.rows) && t.rows > 0, `${what} size`);

export function assertPlayerIndex(index: PlayerIndexLike) {
  check(index.version === 1, "version");
  check(Number.isFinite(index.duration) && index.duration >= 0, "duration");
  size(index.term, "terminal");
  check(Array.isArray(index.segments) && index.segments.length > 0, "no segments");
  let prev = -1;
  index.segments.forEach((s, i) => {
    check(Number.isFinite(s.start) && s.start >= 0, `segment ${i} start`);
    check(typeof s.url === "string" && s.url.length > 0, `segment ${i} url`);
    if (i === 0) check(s.start === 0, "first segment must start at 0");
    else check(s.start > prev && s.start < index.duration, `segment ${i} start ${s.start} after ${prev}, before ${index.duration}`);
    prev = s.start;
  });
  let last = -1;
  for (const [i, m] of (index.markers ?? []).entries()) {
    check(Array.isArray(m) && m.length === 2 && typeof m[1] === "string", `marker ${i}`);
    check(m[0] >= last && m[0] <= index.duration, `marker ${i} time`);
    last = m[0];
  }
}

export function assertPlayerSegment(index: PlayerIndexLike, k: number, segment: PlayerSegmentLike) {
  size(segment.snapshot, `segment ${k} snapshot`);
  check(typeof segment.snapshot.init === "string", `segment ${k} init`);
  check(Array.isArray(segment.events) && segment.events.length > 0, `segment ${k} has no events`);
  const start = index.segments[k].start * 1000;
  const isLast = k + 1 === index.segments.length;
  const end = isLast ? index.duration * 1000 : index.segments[k + 1].start * 1000;
  let prev = -1;
  segment.events.forEach((e, i) => {
    check(Array.isArray(e) && e.length === 3 && typeof e[1] === "string", `segment ${k} event ${i} shape`);
    const t = e[0] * 1000;
    check(Number.isFinite(t) && t >= 0, `segment ${k} event ${i} time`);
    check(t >= prev && t >= start && (isLast ? t <= end : t < end), `segment ${k} event ${i} time ${t} outside [${start}, ${end})`);
    if (e[1] === "m") check(typeof e[2] === "string", `segment ${k} marker ${i}`);
    prev = t;
  });
  if (k > 0) check(segment.events[0][0] * 1000 === start, `segment ${k} first event must match its start`);
  if (isLast) check(segment.events[segment.events.length - 1][0] * 1000 === index.duration * 1000, "final event must match the duration");
}
