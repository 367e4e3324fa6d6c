"use client";
import { useEffect, useRef } from "react";

/**
 * `fn` at most once per `ms`: the first call runs at once, calls during the wait fold into one
 * more at its end. A page refetching aggregates on every live event would otherwise ask the
 * database for all of them again for each of a busy gateway's sessions.
 */
export function useThrottled(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const state = useRef<{ last: number; timer?: ReturnType<typeof setTimeout> }>({ last: 0 });
  useEffect(() => () => clearTimeout(state.current.timer), []);
  const call = useRef(() => {
    const s = state.current;
    if (s.timer) return;
    const wait = s.last + ms - Date.now();
    if (wait <= 0) {
      s.last = Date.now();
      latest.current();
      return;
    }
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.last = Date.now();
      latest.current();
    }, wait);
  });
  return call.current;
}
