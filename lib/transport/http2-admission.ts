import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { Http2Code, type RpcError, encodeGrpcMessage, headerListSize, metadataTooLarge, requestTimeoutMs } from '../protocol/index.js';
import type { ServerCallLimits } from './call-port.js';
import { guard } from './http2-requests.js';
import { Http2ServerCall, headerString } from './http2-server-call.js';

/** What admission needs from the server's options. @internal */
export interface Http2AdmissionLimits extends ServerCallLimits {
  /** Request metadata above this many bytes (RFC 9113 §6.5.2 accounting) is refused with `RESOURCE_EXHAUSTED`. */
  readonly maxMetadataSize: number;
}

/**
 * Turns a new node:http2 stream whose content type is gRPC's (`application/grpc[+x]`: the
 * transport sends every other stream to gRPC-Web admission, which answers 415 for what is
 * neither) into a gRPC call, or answers it: the one place where an HTTP/2 gRPC request is checked
 * before the server sees it (DESIGN.md §5). In order:
 *
 *   metadata over grpc.max_metadata_size ─► Trailers-Only RESOURCE_EXHAUSTED, then RST NO_ERROR
 *   :method not POST ──────────────────────► HTTP 405
 *   grpc-timeout malformed ────────────────► INTERNAL
 *   grpc-encoding unknown ─────────────────► UNIMPLEMENTED with our accept list (doc/compression.md)
 *
 * @returns the admitted call, or undefined when the stream has been answered
 * @internal
 */
export function admitHttp2Stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[], limits: Http2AdmissionLimits): Http2ServerCall | undefined {
  // node:http2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the peer has acknowledged it,
  // and then by a bare RST_STREAM ENHANCE_YOUR_CALM; a header block that arrives before that is
  // served whole. So grpc.max_metadata_size is checked here, on every stream.
  const size = headerListSize(rawHeaders);
  if (size > limits.maxMetadataSize) {
    refuse(stream, metadataTooLarge(size, limits.maxMetadataSize));
    return undefined;
  }
  const call = new Http2ServerCall(stream, headers, rawHeaders, limits);
  if (headers[':method'] !== 'POST') {
    call.rejectHttp(405);
    return undefined;
  }
  let timeoutMs: number | undefined;
  try {
    timeoutMs = requestTimeoutMs(headerString(headers['grpc-timeout']));
  } catch (err) {
    call.finish((err as RpcError).code, (err as RpcError).details);
    return undefined;
  }
  if (timeoutMs !== undefined) call.setDeadline(timeoutMs);
  if (!call.acceptRequestEncoding(headerString(headers['grpc-encoding']))) return undefined;
  return call;
}

function refuse(stream: ServerHttp2Stream, error: RpcError): void {
  guard(() => {
    // PROTOCOL-HTTP2.md, Responses: Trailers-Only. The request body is not wanted, so the
    // stream is then closed with NO_ERROR (RFC 9113 §8.1: the response is complete).
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(error.code), 'grpc-message': encodeGrpcMessage(error.details) },
      { endStream: true },
    );
    stream.close(Http2Code.NO_ERROR);
  });
}

