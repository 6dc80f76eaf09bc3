/**
 * Pure gRPC wire logic: status codes, metadata, framing, grpc-timeout, compression codecs,
 * grpc-message encoding and status mappings. Nothing here knows HTTP/2 exists.
 * @packageDocumentation
 */
export { StatusCode, statusCodeName, isStatusCode, parseStatusHeader } from './status.js';
export { RpcError, toRpcError, isUnexpectedError, UNEXPECTED_ERROR_DETAILS, type Status, type RpcErrorOptions } from './rpc-error.js';
export {
  Metadata,
  metadataToHeaders,
  headersToMetadata,
  rawHeadersToMetadata,
  isReservedHeader,
  type MetadataValue,
  type MetadataInit,
  type HeaderMap,
} from './metadata.js';
export { encodeGrpcMessage, decodeGrpcMessage } from './percent.js';
export { parseGrpcTimeout, encodeGrpcTimeout } from './timeout.js';
export { encodeFrame, createFrameDecoder, FRAME_HEADER_BYTES, type Frame, type FrameDecoder, type FrameDecoderOptions } from './framing.js';
export {
  Compression,
  compress,
  decompress,
  compressionName,
  compressionFromName,
  checkCompression,
  ACCEPT_ENCODING,
} from './compression.js';
export { statusFromHttpStatus } from './http-status.js';
export { Http2Code, statusFromRstCode, statusFromNodeError } from './http2-errors.js';
export { splitMethodPath, type MethodDefinition, type AnyMethodDefinition, type ServiceDefinition } from './service-definition.js';
export { readChannelArgs, CHANNEL_ARG_INT_MAX, type ChannelArgs } from './channel-args.js';
