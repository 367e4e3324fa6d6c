/**
 * `detect`: what the built-in detectors find in a text, with positions. For explaining and
 * testing rules (the console's "test a rule" box, `gatehouse masking test --text`), not for the
 * data path: it allocates a result object per match.
 */
import { DETECTOR_NAMES, type DetectorName } from "./catalog";
import { bit } from "./detectors/chars";
import { RangeList, buildTriggerTable, scanBuiltins } from "./detectors/scanner";

export interface Detection {
  detector: DetectorName;
  start: number;
  end: number;
  value: string;
}

export function detect(text: string, detectors: readonly DetectorName[] = DETECTOR_NAMES): Detection[] {
  let mask = 0;
  for (const name of detectors) mask |= bit(DETECTOR_NAMES.indexOf(name));
  const ranges = new RangeList();
  scanBuiltins(text, mask, buildTriggerTable(mask), ranges);
  const found: Detection[] = [];
  for (let r = 0; r < ranges.length; r++) {
    const start = ranges.starts[r];
    const end = ranges.ends[r];
    found.push({ detector: DETECTOR_NAMES[ranges.kinds[r]], start, end, value: text.slice(start, end) });
  }
  return found;
}
