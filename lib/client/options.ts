import { CHANNEL_ARG_INT_MAX, checkCompression, readChannelArgs, type Compression } from '../protocol/core.js';

/**
 * Channel settings, under gRPC's standard channel-argument names, as `[key, value]` pairs or
 * an object. Unknown keys are ignored; a bad value for a known key throws at channel creation.
 */
export interface ChannelOptions {
  /** Largest response message accepted, in bytes; `-1` for no limit. @defaultValue 4_194_304 */
  readonly 'grpc.max_receive_message_length'?: number;
  /** Largest request message sent, in bytes; `-1` for no limit. @defaultValue -1 */
  readonly 'grpc.max_send_message_length'?: number;
  /** Interval of keepalive pings on a connection, in milliseconds. @defaultValue unlimited (no pings) */
  readonly 'grpc.keepalive_time_ms'?: number;
  /** How long to wait for a keepalive ping's answer before closing the connection, in milliseconds. @defaultValue 20_000 */
  readonly 'grpc.keepalive_timeout_ms'?: number;
  /** Whether to send keepalive pings on a connection without calls (`0`/`1` or a boolean). @defaultValue false */
  readonly 'grpc.keepalive_permit_without_calls'?: number | boolean;
  /** The `:authority` sent with calls, instead of the target's host. */
  readonly 'grpc.default_authority'?: string;
  /** The name the server's TLS certificate must carry, instead of the target's host (tests). */
  readonly 'grpc.ssl_target_name_override'?: string;
  /** Prepended to the user-agent header. */
  readonly 'grpc.primary_user_agent'?: string;
  /** Compression of request messages: a {@link Compression} value. @defaultValue Compression.NoCompression */
  readonly 'grpc.default_compression_algorithm'?: Compression;
  /** Whether calls are retried per the service config's retryPolicy (`0`/`1` or a boolean). @defaultValue true */
  readonly 'grpc.enable_retries'?: number | boolean;
  /**
   * The service config as JSON (doc/service_config.md): `methodConfig` with timeout, retryPolicy
   * and waitForReady; `loadBalancingConfig` (`[{ round_robin: {} }]`, `[{ pick_first: { shuffleAddressList: true } }]`);
   * `healthCheckConfig: { serviceName }` for client-side health checking (gRFC A17).
   */
  readonly 'grpc.service_config'?: string;
  /**
   * The load-balancing policy when the service config names none: `pick_first`, `round_robin`,
   * or one registered with {@link registerLoadBalancer}. @defaultValue 'pick_first'
   */
  readonly 'grpc.lb_policy_name'?: string;
  /** The least time between two DNS resolutions of the target, in milliseconds. @defaultValue 30_000 */
  readonly 'grpc.dns_min_time_between_resolutions_ms'?: number;
  /** First reconnect delay, in milliseconds. @defaultValue 1_000 */
  readonly 'grpc.initial_reconnect_backoff_ms'?: number;
  /** Longest reconnect delay, in milliseconds. @defaultValue 120_000 */
  readonly 'grpc.max_reconnect_backoff_ms'?: number;
  /** Shortest time a connection attempt is given, in milliseconds. @defaultValue 20_000 */
  readonly 'grpc.min_reconnect_backoff_ms'?: number;
  /** Bytes of requests kept per call for replay on a retry (gRFC A6). @defaultValue 262_144 */
  readonly 'grpc.per_rpc_retry_buffer_size'?: number;
  /**
   * Allows call credentials (tokens) to be sent over a plaintext channel, as grpcio's local
   * credentials do for loopback. Off by default so tokens do not leak in the clear.
   * @defaultValue false
   */
  readonly 'grpc-iter.allow_insecure_call_credentials'?: number | boolean;
}

/** Options as pairs, as grpcio takes them, or as an object. */
export type ChannelOptionsInit = ChannelOptions | Iterable<readonly [string, unknown]>;

/** The parsed options. @internal */
export interface ResolvedChannelOptions {
  readonly maxReceiveMessageBytes: number;
  readonly maxSendMessageBytes: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepalivePermitWithoutCalls: boolean;
  readonly defaultAuthority: string | undefined;
  readonly sslTargetNameOverride: string | undefined;
  readonly userAgent: string;
  readonly compression: Compression;
  readonly enableRetries: boolean;
  readonly serviceConfig: ServiceConfig | undefined;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly minConnectTimeoutMs: number;
  readonly allowInsecureCallCredentials: boolean;
  readonly retryBufferBytes: number;
  readonly lbPolicyName: string | undefined;
  readonly dnsMinTimeBetweenResolutionsMs: number;
}

/** The parts of a service config grpc-iter uses (doc/service_config.md). @internal */
export interface ServiceConfig {
  readonly methodConfig?: ReadonlyArray<{
    readonly name?: ReadonlyArray<{ readonly service?: string; readonly method?: string }>;
    readonly timeout?: string;
    readonly waitForReady?: boolean;
    readonly retryPolicy?: {
      readonly maxAttempts: number;
      readonly initialBackoff: string;
      readonly maxBackoff: string;
      readonly backoffMultiplier: number;
      readonly retryableStatusCodes: ReadonlyArray<string | number>;
    };
  }>;
  /** The load-balancing policies in order of preference, each `{ name: config }` (gRFC A24). */
  readonly loadBalancingConfig?: ReadonlyArray<Readonly<Record<string, unknown>>>;
  /** The older form: a policy name such as `ROUND_ROBIN`. */
  readonly loadBalancingPolicy?: string;
  /** Client-side health checking (gRFC A17). */
  readonly healthCheckConfig?: { readonly serviceName?: string };
}

const USER_AGENT = 'grpc-iter/0.1.0';

/** @internal */
export function resolveChannelOptions(init: ChannelOptionsInit | undefined): ResolvedChannelOptions {
  const args = readChannelArgs(init, 'channel options');
  const configText = args.text('grpc.service_config');
  let serviceConfig: ServiceConfig | undefined;
  if (configText !== undefined) {
    try {
      serviceConfig = JSON.parse(configText) as ServiceConfig;
    } catch (err) {
      throw new TypeError(`Cannot use option "grpc.service_config": not valid JSON (${(err as Error).message})`);
    }
  }
  const primary = args.text('grpc.primary_user_agent');
  const compression = args.raw('grpc.default_compression_algorithm');
  return {
    maxReceiveMessageBytes: args.limit('grpc.max_receive_message_length', 4 * 1024 * 1024),
    maxSendMessageBytes: args.limit('grpc.max_send_message_length', -1),
    keepaliveTimeMs: args.duration('grpc.keepalive_time_ms', CHANNEL_ARG_INT_MAX, 1),
    keepaliveTimeoutMs: args.duration('grpc.keepalive_timeout_ms', 20_000, 1),
    keepalivePermitWithoutCalls: args.flag('grpc.keepalive_permit_without_calls', false),
    defaultAuthority: args.text('grpc.default_authority'),
    sslTargetNameOverride: args.text('grpc.ssl_target_name_override'),
    userAgent: primary === undefined ? USER_AGENT : `${primary} ${USER_AGENT}`,
    compression: compression === undefined ? 0 : checkCompression(compression, 'option "grpc.default_compression_algorithm"'),
    enableRetries: args.flag('grpc.enable_retries', true),
    serviceConfig,
    initialBackoffMs: args.duration('grpc.initial_reconnect_backoff_ms', 1000, 1),
    maxBackoffMs: args.duration('grpc.max_reconnect_backoff_ms', 120_000, 1),
    minConnectTimeoutMs: args.duration('grpc.min_reconnect_backoff_ms', 20_000, 1),
    allowInsecureCallCredentials: args.flag('grpc-iter.allow_insecure_call_credentials', false),
    retryBufferBytes: args.int('grpc.per_rpc_retry_buffer_size', 256 * 1024, 0),
    lbPolicyName: args.text('grpc.lb_policy_name'),
    dnsMinTimeBetweenResolutionsMs: args.duration('grpc.dns_min_time_between_resolutions_ms', 30_000, 0),
  };
}
