/**
 * PostgreSQL v3 frontend/backend protocol codec: framing, parsers and builders for both
 * directions. Pure: no sockets here (session.ts and upstream.ts own the I/O). We do not use
 * pg-protocol because it decodes DataRow values as UTF-8 strings, which corrupts binary-format
 * columns; here values stay Buffers end to end.
 *
 *   const reader = new FrameReader({ startup: true, allowedTags: FRONTEND_TAGS });
 *   reader.push(chunk);
 *   for (let f = reader.next(); f; f = reader.next()) {
 *     const msg = f.tag === "" ? parseStartupPacket(f) : parseFrontendMessage(f);
 *   }
 *   socket.write(build.errorResponse({ severity: "ERROR", code: "42501", message: "denied" }));
 */
import { backendBuilders } from "./wire/backend-build";
import { frontendBuilders } from "./wire/frontend-build";

export { ProtocolError, SqlState } from "./wire/errors";
export { FrameReader, STARTUP_CODES, MAX_STARTUP_PACKET, DEFAULT_MAX_MESSAGE, FRONTEND_TAGS, BACKEND_TAGS } from "./wire/frame-reader";
export type { Frame, FrameMode, FrameReaderOptions } from "./wire/frame-reader";
export * from "./wire/messages";
export { parseStartupPacket, parseFrontendMessage } from "./wire/frontend-parse";
export type { FrontendParseOptions } from "./wire/frontend-parse";
export { parseBackendMessage } from "./wire/backend-parse";
export { encodeFrontend, encodeStartupPacket } from "./wire/frontend-build";
export type { BindArgs, ParseArgs, FunctionCallArgs } from "./wire/frontend-build";
export { encodeBackend } from "./wire/backend-build";
export type { ErrorInput } from "./wire/backend-build";
export { negotiateStartup, screenStartupParams } from "./wire/startup";
export type { StartupNegotiation, ScreenedStartupParams } from "./wire/startup";

/**
 * Every message builder, both directions. CopyData/CopyDone are byte-identical either way.
 * Each call returns a fresh Buffer the caller may keep or mutate.
 */
export const build = { ...frontendBuilders, ...backendBuilders };
