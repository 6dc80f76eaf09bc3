import { isIP } from 'node:net';
import type { Address } from '../transport/index.js';
import { dnsResolver } from './dns-resolver.js';
import { formatHostPort, parseHostPort } from './host-port.js';

/*
 * Name resolution (grpc/grpc doc/naming.md): a channel's target is a URI,
 * `scheme:[//authority/]endpoint`, and the resolver registered for its scheme turns the endpoint
 * into addresses, again and again when the load balancer asks (a connection failed or went away).
 * A target whose scheme is not registered is a `dns:///` endpoint (`localhost:50051`).
 */

/** A channel target split as doc/naming.md does: `scheme:[//authority/]endpoint`. */
export interface TargetUri {
  /** The scheme, without the colon: `dns`, `ipv4`, `unix`, or one registered with {@link registerResolver}. */
  readonly scheme: string;
  /** What comes between `//` and the next `/`; '' when the target has none. For `dns`, the DNS server to ask. */
  readonly authority: string;
  /** The rest, without the slash after an authority: for `dns` a `host[:port]`, for `ipv4` a list of `a.b.c.d:port`. */
  readonly endpoint: string;
  /** The target as the channel was given it. */
  readonly text: string;
}

/** What a resolver tells its channel. */
export interface ResolverListener {
  /**
   * A new address list, replacing the last one. An empty list puts the channel in
   * TRANSIENT_FAILURE with `note` (or a message saying no addresses were found).
   */
  onAddresses(addresses: readonly Address[], note?: string): void;
  /** Resolution failed: the channel keeps using the last good list, if any, and says `message` otherwise. */
  onError(message: string): void;
}

/** Settings every resolver gets, from the channel options. */
export interface ResolverOptions {
  /** The port when the endpoint names none: 443, as doc/naming.md says. */
  readonly defaultPort: number;
  /** grpc.dns_min_time_between_resolutions_ms: the least time between two resolutions of one target. */
  readonly minTimeBetweenResolutionsMs: number;
  /** The backoff of retries after a failed resolution (doc/connection-backoff.md), in milliseconds. */
  readonly initialBackoffMs: number;
  /** The longest such backoff, in milliseconds. */
  readonly maxBackoffMs: number;
}

/** A running resolution of one target. */
export interface Resolver {
  /**
   * Asks for a new resolution, as the load balancer does when a connection fails or goes away.
   * The resolver may wait (rate limits) and may coalesce several requests into one resolution.
   */
  resolveNow(): void;
  /** Stops resolving; the listener hears nothing more. */
  close(): void;
  /** Skips the backoff of a retry after a failed resolution (a waitForReady call is waiting). */
  resetBackoff?(): void;
}

/** What a target names, before any resolution: see {@link ResolverProvider.authority}. */
export interface ResolvedAuthority {
  /** The `:authority` header of calls, such as `orders.internal:443`. */
  readonly authority: string;
  /** The host name a TLS server certificate must carry; absent, the authority's host. */
  readonly host?: string | undefined;
}

/** How one scheme is resolved, for {@link registerResolver}. */
export interface ResolverProvider {
  /**
   * Starts resolving `target`; the first result should follow soon (it may be reported
   * synchronously, before this returns).
   * @throws TypeError when the target's endpoint cannot be parsed: the channel is not created
   */
  create(target: TargetUri, listener: ResolverListener, options: ResolverOptions): Resolver;
  /**
   * The `:authority` calls carry by default (grpc.default_authority overrides it), and the host
   * name a TLS server certificate is checked against, when there is one.
   * @throws TypeError when the target's endpoint cannot be parsed
   */
  authority(target: TargetUri, options: ResolverOptions): ResolvedAuthority;
}

const providers = new Map<string, ResolverProvider>();

/**
 * Registers how targets with `scheme:` are resolved: a service registry (Consul, the
 * Kubernetes API) or a fixed list for tests. A later registration of the same scheme replaces
 * the earlier one; channels already created keep theirs.
 *
 * @param scheme - the URI scheme, letters, digits, `+`, `-` and `.` (doc/naming.md)
 * @param provider - creates a resolver per channel
 * @throws TypeError for a scheme that is not a URI scheme
 *
 * @example
 * ```ts
 * registerResolver('static', {
 *   authority: (target) => ({ authority: target.endpoint }),
 *   create: (target, listener) => {
 *     listener.onAddresses([{ host: '10.0.0.1', port: 50051 }, { host: '10.0.0.2', port: 50051 }]);
 *     return { resolveNow() {}, close() {} };
 *   },
 * });
 * const channel = insecureChannel('static:///orders', { 'grpc.lb_policy_name': 'round_robin' });
 * ```
 */
export function registerResolver(scheme: string, provider: ResolverProvider): void {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme)) throw new TypeError(`Cannot register resolver: "${scheme}" is not a URI scheme`);
  if (typeof provider?.create !== 'function' || typeof provider.authority !== 'function') {
    throw new TypeError(`Cannot register resolver "${scheme}": expected an object with create and authority functions`);
  }
  providers.set(scheme.toLowerCase(), provider);
}

/**
 * Splits a target into scheme, authority and endpoint, and finds its resolver. A target
 * without a registered scheme is taken as `dns:///target`, as grpcio does (`localhost:50051`,
 * `[::1]:50051`).
 * @internal
 * @throws TypeError for an empty target
 */
export function resolverFor(target: string): { readonly uri: TargetUri; readonly provider: ResolverProvider } {
  if (typeof target !== 'string' || target === '') throw new TypeError('Cannot parse target: expected a non-empty string');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(target);
  const provider = m === null ? undefined : providers.get(m[1]!.toLowerCase());
  if (m !== null && provider !== undefined) return { uri: splitUri(m[1]!.toLowerCase(), m[2]!, target), provider };
  return { uri: { scheme: 'dns', authority: '', endpoint: target, text: target }, provider: providers.get('dns')! };
}

function splitUri(scheme: string, rest: string, text: string): TargetUri {
  if (!rest.startsWith('//')) return { scheme, authority: '', endpoint: rest, text };
  const slash = rest.indexOf('/', 2);
  if (slash === -1) return { scheme, authority: rest.slice(2), endpoint: '', text };
  return { scheme, authority: rest.slice(2, slash), endpoint: rest.slice(slash + 1), text };
}

/** A resolver whose answer never changes: the addresses are in the target itself. */
function fixedResolver(addresses: (target: TargetUri, options: ResolverOptions) => Address[], authority: ResolverProvider['authority']): ResolverProvider {
  return {
    authority,
    create(target, listener, options) {
      listener.onAddresses(addresses(target, options));
      // Asking again would give the same list: nothing to do.
      return { resolveNow: () => undefined, close: () => undefined };
    },
  };
}

function ipList(family: 'ipv4' | 'ipv6'): ResolverProvider {
  const parse = (target: TargetUri, options: ResolverOptions): Array<{ host: string; port: number }> => {
    const text = target.text;
    if (target.endpoint === '') throw new TypeError(`Cannot parse target "${text}": expected ${family === 'ipv4' ? 'a.b.c.d:port' : '[a::b]:port'}[,...]`);
    return target.endpoint.split(',').map((part) => {
      const { host, port } = parseHostPort(part, options.defaultPort, text);
      const ok = isIP(host) === (family === 'ipv4' ? 4 : 6);
      if (!ok) throw new TypeError(`Cannot parse target "${text}": "${host}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`);
      return { host, port };
    });
  };
  return fixedResolver(parse, (target, options) => {
    const first = parse(target, options)[0]!;
    return { authority: formatHostPort(first.host, first.port) };
  });
}

function unixPath(target: TargetUri): string {
  // unix:relative/or/abs/path, and unix:///abs/path whose path keeps its slash (doc/naming.md).
  const rest = target.text.slice(target.text.indexOf(':') + 1);
  const path = rest.startsWith('//') ? rest.slice(2 + target.authority.length) : rest;
  if (path === '' || path === '/') throw new TypeError(`Cannot parse target "${target.text}": empty unix socket path`);
  return path;
}

function abstractPath(target: TargetUri): string {
  if (target.endpoint === '') throw new TypeError(`Cannot parse target "${target.text}": empty socket name`);
  // A leading NUL byte names a socket in Linux's abstract namespace.
  return `\0${target.endpoint}`;
}

registerResolver('dns', dnsResolver);
registerResolver('ipv4', ipList('ipv4'));
registerResolver('ipv6', ipList('ipv6'));
registerResolver(
  'unix',
  fixedResolver(
    (target) => [{ path: unixPath(target) }],
    // Parsed here too, so that a bad path is refused when the channel is created, not at its first call.
    (target) => {
      unixPath(target);
      return { authority: 'localhost' };
    },
  ),
);
registerResolver(
  'unix-abstract',
  fixedResolver(
    (target) => [{ path: abstractPath(target) }],
    (target) => {
      abstractPath(target);
      return { authority: 'localhost' };
    },
  ),
);
