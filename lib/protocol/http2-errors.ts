import { RpcError } from './rpc-error.js';
import { StatusCode } from './status.js';

// The one place where HTTP/2 error codes meet gRPC status codes.
// PROTOCOL-HTTP2.md, "Errors": the table of RST_STREAM codes and the status a client sees.

/** HTTP/2 error codes (RFC 9113 §7). @internal */
export const Http2Code = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/**
 * The status a call gets when its stream is reset with `rstCode` (PROTOCOL-HTTP2.md, Errors).
 * @internal
 */
export function statusFromRstCode(rstCode: number): RpcError {
  switch (rstCode) {
    case Http2Code.NO_ERROR:
    case Http2Code.PROTOCOL_ERROR:
    case Http2Code.INTERNAL_ERROR:
    case Http2Code.FLOW_CONTROL_ERROR:
    case Http2Code.SETTINGS_TIMEOUT:
    case Http2Code.FRAME_SIZE_ERROR:
    case Http2Code.COMPRESSION_ERROR:
    case Http2Code.CONNECT_ERROR:
      return new RpcError(StatusCode.INTERNAL, `Stream reset with HTTP/2 code ${rstCode}`);
    case Http2Code.REFUSED_STREAM:
      return new RpcError(StatusCode.UNAVAILABLE, 'Stream refused by peer');
    case Http2Code.CANCEL:
      return new RpcError(StatusCode.CANCELLED, 'Call cancelled by peer');
    case Http2Code.ENHANCE_YOUR_CALM:
      return new RpcError(StatusCode.RESOURCE_EXHAUSTED, 'Stream reset by peer: ENHANCE_YOUR_CALM');
    case Http2Code.INADEQUATE_SECURITY:
      return new RpcError(StatusCode.PERMISSION_DENIED, 'Stream reset by peer: INADEQUATE_SECURITY');
    default:
      return new RpcError(StatusCode.INTERNAL, `Stream reset with HTTP/2 code ${rstCode}`);
  }
}

/**
 * The status for a Node.js stream or socket error: connection loss is UNAVAILABLE, anything
 * else INTERNAL.
 * @internal
 */
export function statusFromNodeError(err: unknown): RpcError {
  const code = (err as { code?: string } | null)?.code;
  switch (code) {
    case 'ECONNRESET':
    case 'ECONNREFUSED':
    case 'EPIPE':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ERR_HTTP2_GOAWAY_SESSION':
    case 'ERR_HTTP2_SESSION_ERROR':
    case 'ERR_HTTP2_INVALID_SESSION':
    case 'ERR_HTTP2_STREAM_CANCEL':
    case 'ERR_HTTP2_PING_CANCEL':
    // The session used up its stream ids (RFC 9113 §5.1.1): a new connection serves the call.
    case 'ERR_HTTP2_OUT_OF_STREAMS':
      return new RpcError(StatusCode.UNAVAILABLE, `Connection lost: ${(err as Error).message}`, { cause: err });
    case 'ERR_HTTP2_INVALID_STREAM':
    case 'ERR_STREAM_WRITE_AFTER_END':
    case 'ERR_STREAM_DESTROYED':
      return new RpcError(StatusCode.CANCELLED, 'Stream closed', { cause: err });
    default:
      // A failed TLS handshake or certificate check is a connection that could not be made.
      if (typeof code === 'string' && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_') || code.includes('CERTIFICATE'))) {
        return new RpcError(StatusCode.UNAVAILABLE, `TLS failed: ${(err as Error).message.trim()}`, { cause: err });
      }
      return new RpcError(StatusCode.INTERNAL, `Transport error: ${(err as Error | undefined)?.message ?? String(err)}`, { cause: err });
  }
}
