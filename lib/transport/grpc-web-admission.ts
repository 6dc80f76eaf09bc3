import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import {
  type RpcError,
  encodeGrpcMessage,
  headerListSize,
  isGrpcContentType,
  metadataTooLarge,
  parseGrpcWebContentType,
  requestTimeoutMs,
  type GrpcWebFormat,
} from '../protocol/index.js';
import type { ServerCallLimits } from './call-port.js';
import { GrpcWebServerCall, type WebExchange } from './grpc-web-server-call.js';

/**
 * Which cross-origin callers a server answers (CORS, https://fetch.spec.whatwg.org/#http-cors-protocol).
 * @internal
 */
export interface CorsPolicy {
  /** Origins allowed to call (`https://app.example`), or every origin. */
  readonly allowOrigins: '*' | readonly string[];
  /** Whether the browser may send cookies and HTTP auth with its calls. */
  readonly allowCredentials: boolean;
  /** How long a browser may cache a preflight's answer, in seconds. */
  readonly maxAgeSeconds: number | undefined;
}

/** What gRPC-Web admission needs from the server's options. @internal */
export interface WebAdmissionOptions extends ServerCallLimits {
  readonly maxMetadataSize: number;
  /** CORS, off when undefined (same-origin calls need none). */
  readonly cors?: CorsPolicy | undefined;
  /** A unary request body must have arrived whole within this many milliseconds. */
  readonly webRequestBodyTimeoutMs: number;
}

/** The head of an HTTP request that may be a gRPC-Web call. @internal */
export interface WebRequestHead {
  readonly method: string;
  readonly path: string;
  readonly authority: string | undefined;
  /** Header values by lower-case name. */
  readonly headers: IncomingHttpHeaders;
  /** Header names (lower-case) and values, alternating, as they arrived. */
  readonly rawHeaders: readonly string[];
  /** Whether the request came over HTTP/2 (native gRPC is possible there). */
  readonly http2: boolean;
}

/**
 * Turns an HTTP request that is not native gRPC into a gRPC-Web call, or answers it: the one
 * place where gRPC-Web requests are checked (DESIGN.md §5). In order:
 *
 *   OPTIONS ───────────────────────────────────────► CORS preflight: 204, or 403 / 405 with a text body
 *   native gRPC content type over HTTP/1.1 ────────► HTTP 505 (gRPC needs HTTP/2)
 *   content-type not application/grpc-web[-text] ──► HTTP 415
 *   method not POST ───────────────────────────────► HTTP 405
 *   request metadata over grpc.max_metadata_size ─► Trailers-Only RESOURCE_EXHAUSTED
 *   grpc-timeout malformed ────────────────────────► INTERNAL
 *   grpc-encoding unknown ─────────────────────────► UNIMPLEMENTED (doc/compression.md)
 *
 * Every answer to an allowed origin carries the CORS headers, so a browser can read it.
 * @returns the admitted call, or undefined when the request has been answered
 * @internal
 */
export function admitWebRequest(exchange: WebExchange, head: WebRequestHead, options: WebAdmissionOptions): GrpcWebServerCall | undefined {
  const headers = head.headers;
  const origin = headerValue(headers['origin']);
  const cors = corsHeaders(options.cors, origin);
  if (head.method === 'OPTIONS') {
    preflight(exchange, headers, options.cors, origin, cors);
    return undefined;
  }
  const contentType = headerValue(headers['content-type']);
  const format = parseGrpcWebContentType(contentType);
  if (format === undefined) {
    if (!head.http2 && contentType !== undefined && isGrpcContentType(contentType)) {
      answerText(exchange, 505, 'Cannot serve gRPC over HTTP/1.1: gRPC needs HTTP/2 (gRPC-Web, application/grpc-web, works over HTTP/1.1)', cors);
    } else {
      answerText(exchange, 415, `Cannot serve request: content-type ${contentType === undefined ? 'is missing' : `"${contentType}" is neither gRPC nor gRPC-Web`}`, cors);
    }
    return undefined;
  }
  if (head.method !== 'POST') {
    answerText(exchange, 405, `Cannot serve gRPC-Web request: method "${head.method}" is not POST`, { ...cors, allow: 'POST, OPTIONS' });
    return undefined;
  }
  const accept = headerValue(headers['accept']);
  // PROTOCOL-WEB.md: the response uses the request's format, or text when the client asks for it.
  const text = format.text || (accept !== undefined && accept.includes('application/grpc-web-text'));
  const responseFormat: GrpcWebFormat = text === format.text ? format : { text, codec: format.codec };
  const size = headerListSize(head.rawHeaders);
  if (size > options.maxMetadataSize) {
    refuse(exchange, responseFormat, metadataTooLarge(size, options.maxMetadataSize), cors);
    return undefined;
  }
  const call = new GrpcWebServerCall(exchange, {
    path: head.path,
    authority: head.authority,
    rawHeaders: head.rawHeaders,
    requestText: format.text,
    responseFormat,
    acceptEncoding: headerValue(headers['grpc-accept-encoding']),
    cors,
    limits: options,
    bodyTimeoutMs: options.webRequestBodyTimeoutMs,
  });
  let timeoutMs: number | undefined;
  try {
    timeoutMs = requestTimeoutMs(headerValue(headers['grpc-timeout']));
  } catch (err) {
    call.finish((err as RpcError).code, (err as RpcError).details);
    return undefined;
  }
  if (timeoutMs !== undefined) call.setDeadline(timeoutMs);
  if (!call.acceptRequestEncoding(headerValue(headers['grpc-encoding']))) return undefined;
  return call;
}

/**
 * The CORS headers of every response to `origin`, or undefined when CORS is off, the request
 * is same-origin (no Origin header) or the origin is not allowed (the browser then hides the
 * response from the page, which is how CORS refuses).
 */
function corsHeaders(policy: CorsPolicy | undefined, origin: string | undefined): Record<string, string> | undefined {
  if (policy === undefined || origin === undefined || !originAllowed(policy, origin)) return undefined;
  // Fetch standard: "*" cannot be used with credentials, so the origin is echoed then.
  const any = policy.allowOrigins === '*' && !policy.allowCredentials;
  const headers: Record<string, string> = { 'access-control-allow-origin': any ? '*' : origin };
  if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
  // The answer depends on Origin unless it is "*": caches must keep them apart.
  if (!any) headers['vary'] = 'Origin';
  return headers;
}

function originAllowed(policy: CorsPolicy, origin: string): boolean {
  return policy.allowOrigins === '*' || policy.allowOrigins.includes(origin);
}

// A comma-separated list of header names (RFC 9110 §5.6.2 tokens).
const HEADER_LIST = /^\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*\s*$/;

/** Answers an OPTIONS request: a CORS preflight, or a plain question about the resource. */
function preflight(exchange: WebExchange, headers: IncomingHttpHeaders, policy: CorsPolicy | undefined, origin: string | undefined, cors: Record<string, string> | undefined): void {
  const method = headerValue(headers['access-control-request-method']);
  if (method === undefined || origin === undefined) {
    exchange.respond(204, { allow: 'POST, OPTIONS' }, undefined, false);
    return;
  }
  if (policy === undefined) {
    answerText(exchange, 403, 'Cannot allow cross-origin call: CORS is not enabled on this server (see the cors option of server())', undefined);
    return;
  }
  if (cors === undefined) {
    answerText(exchange, 403, `Cannot allow cross-origin call: origin "${origin}" is not allowed`, { vary: 'Origin' });
    return;
  }
  if (method !== 'POST') {
    answerText(exchange, 405, `Cannot allow cross-origin call: method "${method}" is not allowed, gRPC-Web uses POST`, { ...cors, allow: 'POST, OPTIONS' });
    return;
  }
  const requested = headerValue(headers['access-control-request-headers']);
  if (requested !== undefined && requested !== '' && !HEADER_LIST.test(requested)) {
    answerText(exchange, 400, 'Cannot allow cross-origin call: access-control-request-headers is not a list of header names', cors);
    return;
  }
  const answer: OutgoingHttpHeaders = {
    ...cors,
    'access-control-allow-methods': 'POST',
    vary: 'Origin, Access-Control-Request-Headers',
    'content-length': '0',
  };
  // Metadata is any header name, so whatever the page asks to send is allowed.
  if (requested !== undefined && requested !== '') answer['access-control-allow-headers'] = requested;
  if (policy.maxAgeSeconds !== undefined) answer['access-control-max-age'] = String(policy.maxAgeSeconds);
  exchange.respond(204, answer, undefined, false);
}

/** A bare HTTP answer with a text body saying why (no handler runs). */
function answerText(exchange: WebExchange, status: number, message: string, extra: OutgoingHttpHeaders | undefined): void {
  const body = Buffer.from(message, 'utf8');
  exchange.respond(status, { ...extra, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) }, body, true);
}

/** Trailers-Only with `error`, before any call exists. */
function refuse(exchange: WebExchange, format: GrpcWebFormat, error: RpcError, cors: Record<string, string> | undefined): void {
  exchange.respond(
    200,
    {
      ...cors,
      ...(cors !== undefined ? { 'access-control-expose-headers': 'grpc-status, grpc-message' } : {}),
      'content-type': `application/grpc-web${format.text ? '-text' : ''}+${format.codec}`,
      'grpc-status': String(error.code),
      'grpc-message': encodeGrpcMessage(error.details),
      'content-length': '0',
    },
    undefined,
    true,
  );
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Checks a server's `cors` setting once, at `server()`.
 * @throws TypeError or RangeError naming what is wrong
 * @internal
 */
export function resolveCorsPolicy(config: unknown): CorsPolicy | undefined {
  if (config === undefined || config === null) return undefined;
  if (typeof config !== 'object') throw new TypeError(`Cannot use cors setting: expected an object, got ${typeof config}`);
  const { allowOrigins, allowCredentials, maxAgeSeconds } = config as Record<string, unknown>;
  let origins: '*' | string[];
  if (allowOrigins === '*') origins = '*';
  else if (Array.isArray(allowOrigins) && allowOrigins.every((o) => typeof o === 'string' && o !== '')) origins = [...(allowOrigins as string[])];
  else throw new TypeError('Cannot use cors setting: allowOrigins must be "*" or an array of origins such as "https://app.example"');
  if (allowCredentials !== undefined && typeof allowCredentials !== 'boolean') throw new TypeError('Cannot use cors setting: allowCredentials must be a boolean');
  if (maxAgeSeconds !== undefined && (typeof maxAgeSeconds !== 'number' || !Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 0)) {
    throw new RangeError(`Cannot use cors setting: maxAgeSeconds must be a whole number of seconds, got ${String(maxAgeSeconds)}`);
  }
  return { allowOrigins: origins, allowCredentials: allowCredentials === true, maxAgeSeconds: maxAgeSeconds as number | undefined };
}
