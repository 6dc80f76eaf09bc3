/**
 * Pure gRPC wire logic: status codes, metadata, framing, grpc-timeout, compression codecs,
 * grpc-message encoding and status mappings. Nothing here knows HTTP/2 exists.
 *
 * The plain re-exports are the public names lib/index.ts and the subpath entries publish; the
 * statements tagged internal are the barrel the other folders import through, dropped from the
 * published .d.ts by stripInternal (which drops any statement whose leading comment names the
 * tag, so this header must not).
 * @packageDocumentation
 */
export { StatusCode, statusCodeName, isStatusCode } from './status.js';
/** @internal */
export { parseStatusHeader } from './status.js';
export { RpcError, UNEXPECTED_ERROR_DETAILS, STATUS_DETAILS_KEY, type Status, type RpcErrorOptions } from './rpc-error.js';
/** @internal */
export { toRpcError, isUnexpectedError, errorTrailers } from './rpc-error.js';
export {
  packDetail,
  unpackDetail,
  findDetails,
  encodeRpcStatus,
  decodeRpcStatus,
  decodeErrorDetails,
  typeNameOf,
  TYPE_URL_PREFIX,
  STANDARD_DETAIL_TYPES,
  ErrorInfo,
  RetryInfo,
  DebugInfo,
  QuotaFailure,
  PreconditionFailure,
  BadRequest,
  RequestInfo,
  ResourceInfo,
  Help,
  LocalizedMessage,
  type Any,
  type DetailType,
  type MessageWriter,
  type RpcStatus,
  type ErrorDetail,
  type KnownErrorDetail,
  type UnknownErrorDetail,
  type Duration,
  type QuotaViolation,
  type PreconditionViolation,
  type FieldViolation,
  type HelpLink,
} from './status-details.js';
/** @internal The hand-written protobuf wire reader and writer, shared with services/ (health, reflection). */
export { ProtoWriter, readFields, readString, WireType, type ProtoField } from './protobuf-wire.js';
export { Metadata, type MetadataValue, type MetadataInit } from './metadata.js';
/** @internal */
export { metadataToHeaders, headersToMetadata, rawHeadersToMetadata, isReservedHeader, type HeaderMap } from './metadata.js';
export { encodeGrpcMessage, decodeGrpcMessage } from './percent.js';
export { parseGrpcTimeout, encodeGrpcTimeout } from './timeout.js';
/** @internal */
export { encodeFrame, createFrameDecoder, FRAME_HEADER_BYTES, type Frame, type FrameDecoder, type FrameDecoderOptions } from './framing.js';
export { Compression } from './compression.js';
/** @internal */
export { compressionName, compressionFromName, checkCompression, ACCEPT_ENCODING } from './compression.js';
/** @internal The zlib codecs, for the node:http2 transports. */
export { compress, decompress } from './compression-codecs.js';
export { statusFromHttpStatus } from './http-status.js';
/** @internal gRPC-Web framing, trailers and text mode (PROTOCOL-WEB.md), browser-safe. */
export {
  TRAILER_FLAG,
  parseGrpcWebContentType,
  grpcWebContentType,
  encodeWebFrame,
  encodeTrailerFrame,
  parseTrailerBlock,
  createWebFrameDecoder,
  base64Encode,
  createBase64Decoder,
  type GrpcWebFormat,
  type WebFrame,
  type WebFrameDecoder,
  type Base64Decoder,
} from './grpc-web.js';
/** @internal The request rules every transport applies before a call exists. */
export { isGrpcContentType, headerListSize, metadataTooLarge, requestTimeoutMs } from './admission.js';
/** @internal */
export { Http2Code, statusFromRstCode, statusFromNodeError } from './http2-errors.js';
export { type MethodDefinition, type AnyMethodDefinition, type ServiceDefinition } from './service-definition.js';
/** @internal */
export { splitMethodPath } from './service-definition.js';
/** @internal */
export { readChannelArgs, CHANNEL_ARG_INT_MAX, type ChannelArgs } from './channel-args.js';
