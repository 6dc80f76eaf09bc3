/**
 * Pure gRPC wire logic: status codes, metadata, framing, grpc-timeout, compression codecs,
 * grpc-message encoding and status mappings. Nothing here knows HTTP/2 exists.
 * @packageDocumentation
 */
export { StatusCode, statusCodeName, isStatusCode, parseStatusHeader } from './status.js';
export {
  RpcError,
  toRpcError,
  isUnexpectedError,
  errorTrailers,
  UNEXPECTED_ERROR_DETAILS,
  STATUS_DETAILS_KEY,
  type Status,
  type RpcErrorOptions,
} from './rpc-error.js';
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
// @internal: the hand-written protobuf wire reader and writer, shared with services/ (health,
// reflection); not part of the public API.
export { ProtoWriter, readFields, readString, WireType, type ProtoField } from './protobuf-wire.js';
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
