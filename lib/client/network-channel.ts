import { Channel } from './channel.js';
import { channelCredentialsOf, type ChannelCredentials } from './credentials.js';
import { choosePolicy } from './load-balancer.js';
import { resolveChannelOptions, type ChannelOptionsInit } from './options.js';
import { resolverFor } from './resolver.js';
import { ResolvingTransport } from './resolving-transport.js';

// The channels over node:http2. Kept apart from channel.ts so that Channel itself imports no
// node transport, and the browser client (web/) can build on it.

/** Parses the target and options, and builds the resolver, load balancer and channel over them. */
function http2Channel(target: string, credentials: ChannelCredentials | null, options: ChannelOptionsInit | undefined): Channel {
  const o = resolveChannelOptions(options);
  const { uri, provider } = resolverFor(target);
  const resolverOptions = {
    defaultPort: 443,
    minTimeBetweenResolutionsMs: o.dnsMinTimeBetweenResolutionsMs,
    initialBackoffMs: o.initialBackoffMs,
    maxBackoffMs: o.maxBackoffMs,
  };
  const { authority, host } = provider.authority(uri, resolverOptions);
  const policy = choosePolicy(o.serviceConfig, o.lbPolicyName);
  const serviceName = o.serviceConfig?.healthCheckConfig?.serviceName;
  if (serviceName !== undefined && typeof serviceName !== 'string') throw new TypeError('Cannot use option "grpc.service_config": healthCheckConfig.serviceName must be a string');
  const creds = credentials === null ? undefined : channelCredentialsOf(credentials);
  const transport = new ResolvingTransport({
    uri,
    resolver: provider,
    resolverOptions,
    policy,
    healthCheckServiceName: serviceName,
    authority: o.defaultAuthority ?? authority,
    userAgent: o.userAgent,
    connection: {
      tls: creds === undefined ? undefined : { ca: creds.rootCertificates, key: creds.privateKey, cert: creds.certChain, servername: o.sslTargetNameOverride ?? host },
      keepaliveTimeMs: o.keepaliveTimeMs,
      keepaliveTimeoutMs: o.keepaliveTimeoutMs,
      keepalivePermitWithoutCalls: o.keepalivePermitWithoutCalls,
      initialBackoffMs: o.initialBackoffMs,
      maxBackoffMs: o.maxBackoffMs,
      minConnectTimeoutMs: o.minConnectTimeoutMs,
    },
  });
  return Channel.withOptions(transport, o.defaultAuthority ?? authority, o, creds?.callCredentials);
}

/**
 * A channel without TLS (grpcio's `grpc.insecure_channel`).
 *
 * @param target - `host:port`, `dns:[//dns-server/]host[:port]`, `ipv4:a:p[,a:p]`, `ipv6:[a]:p[,...]`,
 *   `unix:path`, `unix:///abs/path`, `unix-abstract:name`, or a scheme registered with {@link registerResolver}
 * @param options - channel arguments, as pairs or an object
 * @returns the channel; it resolves the target and connects when the first call needs it
 * @throws TypeError for a target or option it cannot use
 *
 * @example
 * ```ts
 * const channel = insecureChannel('localhost:50051');
 * const echo = channel.unaryUnary('/demo.Echo/Echo');
 * console.log(await echo(new Uint8Array([1, 2, 3]), { timeout: 2 }));
 * channel.close();
 * ```
 */
export function insecureChannel(target: string, options?: ChannelOptionsInit): Channel {
  return http2Channel(target, null, options);
}

/**
 * A TLS channel (grpcio's `grpc.secure_channel`).
 *
 * @param target - as for {@link insecureChannel}
 * @param credentials - from {@link sslChannelCredentials}, possibly composed with call credentials
 * @param options - channel arguments
 * @returns the channel
 * @throws TypeError for a target, credentials or option it cannot use
 */
export function secureChannel(target: string, credentials: ChannelCredentials, options?: ChannelOptionsInit): Channel {
  channelCredentialsOf(credentials);
  return http2Channel(target, credentials, options);
}
