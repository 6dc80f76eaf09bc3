/**
 * The client: channels, multi-callables, credentials, typed clients. The part that runs anywhere
 * is core.ts, re-exported whole; this adds the node:http2 channels, their TLS credentials and
 * the in-process channel, and the resolver and load-balancing registries they use.
 * @packageDocumentation
 */
export * from './core.js';
export { insecureChannel, secureChannel } from './network-channel.js';
/** @internal The per-call message size hook opentelemetry/ reads. */
export { messageSizes, type MessageSizeObserver } from './call-options.js';
export { sslChannelCredentials, compositeChannelCredentials, type ChannelCredentials } from './credentials.js';
export { inProcessChannel, type InProcessChannelOptions } from './in-process-channel.js';
export { registerResolver, type Resolver, type ResolverListener, type ResolverOptions, type ResolverProvider, type ResolvedAuthority, type TargetUri } from './resolver.js';
export {
  registerLoadBalancer,
  type LoadBalancer,
  type LoadBalancerHelper,
  type LoadBalancerProvider,
  type Pick,
  type Picker,
  type Subchannel,
} from './load-balancer.js';
