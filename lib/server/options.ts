import { CHANNEL_ARG_INT_MAX, readChannelArgs } from '../protocol/index.js';
import type { TransportServerOptions } from '../transport/index.js';

/**
 * Server settings, under gRPC's standard channel-argument names so settings carry over from
 * grpcio and grpc-js unchanged. Taken as `[key, value]` pairs (as grpcio) or as an object;
 * unknown keys are ignored, a known key with a bad value is an error at `server()`.
 */
export interface ServerOptions {
  /**
   * Largest request message accepted, in bytes; a larger one ends the call with
   * `RESOURCE_EXHAUSTED`. `-1` means no limit.
   * @defaultValue 4_194_304
   */
  readonly 'grpc.max_receive_message_length'?: number;
  /**
   * Largest response message sent, in bytes; a larger one ends the call with
   * `RESOURCE_EXHAUSTED`. `-1` means no limit.
   * @defaultValue -1
   */
  readonly 'grpc.max_send_message_length'?: number;
  /**
   * Most streams a client may have open on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
   * @defaultValue 1000
   */
  readonly 'grpc.max_concurrent_streams'?: number;
  /**
   * How often the server pings each connection to check it is alive, in milliseconds.
   * @defaultValue 7_200_000 (two hours)
   */
  readonly 'grpc.keepalive_time_ms'?: number;
  /**
   * How long the server waits for a keepalive ping's answer before closing the connection, in milliseconds.
   * @defaultValue 20_000
   */
  readonly 'grpc.keepalive_timeout_ms'?: number;
  /**
   * Whether clients may send keepalive pings on connections with no calls (`0`/`1` or a boolean).
   * @defaultValue false
   */
  readonly 'grpc.keepalive_permit_without_calls'?: number | boolean;
  /**
   * Least time between client pings the server tolerates when no call is active, in
   * milliseconds; faster pings are strikes, and too many end the connection with GOAWAY
   * `ENHANCE_YOUR_CALM` ("too_many_pings").
   * @defaultValue 300_000
   */
  readonly 'grpc.http2.min_ping_interval_without_data_ms'?: number;
  /**
   * How many bad pings are tolerated before the connection is closed; `0` means none.
   * @defaultValue 2
   */
  readonly 'grpc.http2.max_ping_strikes'?: number;
  /**
   * A connection with no calls for this long is closed with GOAWAY, in milliseconds.
   * @defaultValue unlimited
   */
  readonly 'grpc.max_connection_idle_ms'?: number;
  /**
   * A connection older than this (±10%) is asked to go away, in milliseconds.
   * @defaultValue unlimited
   */
  readonly 'grpc.max_connection_age_ms'?: number;
  /**
   * After `grpc.max_connection_age_ms`, how long calls may still run before the connection is closed, in milliseconds.
   * @defaultValue unlimited
   */
  readonly 'grpc.max_connection_age_grace_ms'?: number;
  /**
   * Largest request metadata accepted, in bytes, counted as HTTP/2 does (RFC 9113 §6.5.2: each
   * name and value plus 32, pseudo-headers included); a call with more is answered
   * `RESOURCE_EXHAUSTED` and no handler runs. As in grpc-core.
   * @defaultValue 8_192
   */
  readonly 'grpc.max_metadata_size'?: number;
  /**
   * The hard metadata limit, in bytes, advertised to clients as SETTINGS_MAX_HEADER_LIST_SIZE;
   * node:http2 resets a stream whose header block is larger (RST_STREAM `ENHANCE_YOUR_CALM`,
   * which gRPC clients read as `RESOURCE_EXHAUSTED`). At least `grpc.max_metadata_size`.
   * @defaultValue the larger of 16_384 and 1.25 × `grpc.max_metadata_size`, as grpc-core
   */
  readonly 'grpc.absolute_max_metadata_size'?: number;
  /**
   * Memory one connection may use for HTTP/2 buffers before new streams are refused, in megabytes (node:http2's `maxSessionMemory`).
   * @defaultValue 10
   */
  readonly 'grpc-node.max_session_memory'?: number;
  /**
   * gRPC-Web over HTTP/1.1: how long a connection may take to send a request's headers, from
   * connecting or from the previous response, in milliseconds; a slower one is closed.
   * @defaultValue 30_000
   */
  readonly 'grpc-iter.http1_headers_timeout_ms'?: number;
  /**
   * gRPC-Web: how long a request body (one message) may take to arrive once its headers have,
   * in milliseconds; a slower call ends `CANCELLED` and its connection or stream is closed.
   * @defaultValue 60_000
   */
  readonly 'grpc-iter.web_request_body_timeout_ms'?: number;
}

/** Options as pairs, as grpcio takes them, or as an object. */
export type ServerOptionsInit = ServerOptions | Iterable<readonly [string, unknown]>;

/** The parsed options: the connection settings plus the per-call message limits. @internal */
export interface ResolvedServerOptions extends TransportServerOptions {
  readonly maxReceiveMessageBytes: number;
  readonly maxSendMessageBytes: number;
}

/**
 * Checks and resolves server options.
 * @internal
 * @throws TypeError or RangeError naming the key of a bad value
 */
export function resolveServerOptions(init: ServerOptionsInit | undefined): ResolvedServerOptions {
  const args = readChannelArgs(init, 'server options');
  // grpc-core (chttp2 transport) derives whichever of the soft and hard limits is not given.
  const soft = args.raw('grpc.max_metadata_size') === undefined ? undefined : args.int('grpc.max_metadata_size', 8_192, 1024);
  const hard = args.raw('grpc.absolute_max_metadata_size') === undefined ? undefined : args.int('grpc.absolute_max_metadata_size', 16_384, 1024);
  const maxHeaderListSize = hard ?? Math.max(16_384, Math.ceil((soft ?? 8_192) * 1.25));
  const maxMetadataSize = Math.min(soft ?? Math.min(8_192, Math.floor(maxHeaderListSize * 0.8)), maxHeaderListSize);
  return {
    maxReceiveMessageBytes: args.limit('grpc.max_receive_message_length', 4 * 1024 * 1024),
    maxSendMessageBytes: args.limit('grpc.max_send_message_length', -1),
    maxConcurrentStreams: Math.min(args.int('grpc.max_concurrent_streams', 1000, 1), 0xffffffff),
    keepaliveTimeMs: args.duration('grpc.keepalive_time_ms', 7_200_000),
    keepaliveTimeoutMs: args.duration('grpc.keepalive_timeout_ms', 20_000),
    keepalivePermitWithoutCalls: args.flag('grpc.keepalive_permit_without_calls', false),
    minPingIntervalWithoutDataMs: args.duration('grpc.http2.min_ping_interval_without_data_ms', 300_000),
    maxPingStrikes: args.int('grpc.http2.max_ping_strikes', 2, 0),
    maxConnectionIdleMs: args.duration('grpc.max_connection_idle_ms', CHANNEL_ARG_INT_MAX),
    maxConnectionAgeMs: args.duration('grpc.max_connection_age_ms', CHANNEL_ARG_INT_MAX),
    maxConnectionAgeGraceMs: args.duration('grpc.max_connection_age_grace_ms', CHANNEL_ARG_INT_MAX),
    maxMetadataSize,
    maxHeaderListSize,
    maxSessionMemoryMb: args.int('grpc-node.max_session_memory', 10, 1),
    http1HeadersTimeoutMs: args.duration('grpc-iter.http1_headers_timeout_ms', 30_000, 1),
    webRequestBodyTimeoutMs: args.duration('grpc-iter.web_request_body_timeout_ms', 60_000, 1),
  };
}
