/**
 * Importing this module registers every protocol gateway with lib/gateway/core/registry.
 * Each protocol folder adds one import line here when it lands.
 */
import "./postgres";
import "./ssh";

export {};
