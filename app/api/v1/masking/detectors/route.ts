import { DETECTORS, MASK_CHANNELS, MASK_STYLES } from "@/lib/gateway/masking";
import { route } from "@/lib/http/route";

export const GET = route("masking:read", async () => ({ detectors: DETECTORS, styles: MASK_STYLES, channels: MASK_CHANNELS }));
