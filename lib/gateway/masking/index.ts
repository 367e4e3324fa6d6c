/**
 * The masking engine's public API. Protocol adapters use compileMasker (+ columnPlan /
 * maskValue for result columns, maskText for free text) and createStreamMasker for terminals;
 * services use validateRule; the console uses DETECTORS.
 */
export { DETECTORS, DETECTOR_NAMES, type DetectorInfo, type DetectorName } from "./catalog";
export { compileMasker } from "./masker";
export { detect, type Detection } from "./detect";
export { createStreamMasker, STREAM_MAX_HOLD, type StreamMasker } from "./stream";
export { validateRule, maskingRuleSchema, MASK_STYLES, MASK_CHANNELS, type RuleValidation } from "./rules";
export { REDACTED, redactMarker } from "./styles";
export type { ColumnMaskPlan, ColumnRef, MaskChannel, MaskCount, Masker, MaskerOptions, MaskingRule, MaskStyle } from "./types";
