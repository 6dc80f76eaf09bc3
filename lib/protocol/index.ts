/**
 * Pure gRPC wire logic: status codes, metadata, framing, grpc-timeout, compression codecs,
 * grpc-message encoding and status mappings. Nothing here knows HTTP/2 exists. The part that
 * runs anywhere (no node:* module, no Buffer) is core.ts, re-exported whole; this adds HTTP/2
 * framing on Buffer, the zlib codecs, request admission and the HTTP/2 reset codes.
 *
 * The plain re-exports are the public names lib/index.ts and the subpath entries publish; the
 * statements tagged internal are the barrel the other folders import through, dropped from the
 * published .d.ts by stripInternal (which drops any statement whose leading comment names the
 * tag, so this header must not).
 * @packageDocumentation
 */
export * from './core.js';
/** @internal */
export { encodeFrame, encodeFrameInto, createFrameDecoder, FRAME_HEADER_BYTES, type Frame, type FrameDecoder, type FrameDecoderOptions } from './framing.js';
/** @internal The zlib codecs, for the node:http2 transports. */
export { compress, decompress } from './compression-codecs.js';
/** @internal The request rules every transport applies before a call exists. */
export { isGrpcContentType, headerListSize, metadataTooLarge, requestTimeoutMs } from './admission.js';
/** @internal */
export { Http2Code, statusFromRstCode, statusFromNodeError } from './http2-errors.js';
