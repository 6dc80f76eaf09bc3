/**
 * The part of protocol/ that runs anywhere: status codes, metadata, grpc-timeout, grpc-message
 * encoding, status details, the HTTP status mapping and gRPC-Web framing, with no node:* module
 * and no Buffer. The browser client (web/) and the client core reach protocol/ through this
 * barrel; index.ts adds the node-bound parts (HTTP/2 framing on Buffer, the zlib codecs, HTTP/2
 * reset codes, request admission).
 *
 * As in index.ts, the statements tagged internal are dropped from the published .d.ts by
 * stripInternal.
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
/** The health.proto messages of Check and Watch, shared by services/health and the client's health checking (gRFC A17). */
export { ServingStatus, type HealthCheckRequest, type HealthCheckResponse } from './health-codec.js';
/** @internal */
export { decodeHealthCheckRequest, encodeHealthCheckRequest, decodeHealthCheckResponse, encodeHealthCheckResponse } from './health-codec.js';
export { Metadata, type MetadataValue, type MetadataInit } from './metadata.js';
/** @internal */
export { metadataToHeaders, headersToMetadata, rawHeadersToMetadata, isReservedHeader, type HeaderMap } from './metadata.js';
export { encodeGrpcMessage, decodeGrpcMessage } from './percent.js';
export { parseGrpcTimeout, encodeGrpcTimeout } from './timeout.js';
export { Compression } from './compression.js';
/** @internal */
export { compressionName, compressionFromName, checkCompression, ACCEPT_ENCODING } from './compression.js';
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
  createBase64Decoder,
  type GrpcWebFormat,
  type WebFrame,
  type WebFrameDecoder,
  type Base64Decoder,
} from './grpc-web.js';
export { type MethodDefinition, type AnyMethodDefinition, type ServiceDefinition } from './service-definition.js';
/** @internal */
export { splitMethodPath } from './service-definition.js';
/** @internal */
export { readChannelArgs, CHANNEL_ARG_INT_MAX, type ChannelArgs } from './channel-args.js';
