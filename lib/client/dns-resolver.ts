import * as dns from 'node:dns';
import { isIP } from 'node:net';
import type { Address } from '../transport/index.js';
import { Backoff } from '../util/index.js';
import { formatHostPort, parseHostPort } from './host-port.js';
import type { Resolver, ResolverListener, ResolverOptions, ResolverProvider, TargetUri } from './resolver.js';

/**
 * The `dns:[//dns-server/]host[:port]` resolver (doc/naming.md). Without a DNS server in the
 * target the system's resolver answers (`getaddrinfo`, so /etc/hosts and `localhost` work);
 * with one, that server is asked for every A and AAAA record. Resolutions are at least
 * grpc.dns_min_time_between_resolutions_ms apart; a failed one keeps the last good list and
 * is retried with backoff.
 */
class DnsResolver implements Resolver {
  readonly #host: string;
  readonly #port: number;
  readonly #listener: ResolverListener;
  readonly #options: ResolverOptions;
  readonly #server: dns.promises.Resolver | undefined;
  #closed = false;
  #running = false;
  // A request that came while a resolution ran, or while the rate limit held it back.
  #wanted = false;
  #lastStart = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  // Whether #timer is a retry after a failure (not a wait for the rate limit).
  #retrying = false;
  readonly #backoff: Backoff;

  constructor(target: TargetUri, listener: ResolverListener, options: ResolverOptions) {
    const { host, port } = parseHostPort(target.endpoint, options.defaultPort, target.text);
    this.#host = host;
    this.#port = port;
    this.#listener = listener;
    this.#options = options;
    this.#backoff = new Backoff(options.initialBackoffMs, options.maxBackoffMs);
    const server = dnsServer(target);
    if (server !== undefined) {
      this.#server = new dns.promises.Resolver();
      this.#server.setServers([server]);
    }
    this.#resolve();
  }

  resolveNow(): void {
    if (this.#closed) return;
    if (this.#running || this.#timer !== undefined) {
      this.#wanted = true;
      return;
    }
    const wait = this.#lastStart + this.#options.minTimeBetweenResolutionsMs - Date.now();
    if (wait <= 0) this.#resolve();
    else this.#schedule(wait);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#server?.cancel();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#retrying = false;
      this.#resolve();
    }, ms);
    // Resolving again must not keep the process alive on its own; calls waiting for it do.
    this.#timer.unref();
  }

  #resolve(): void {
    this.#wanted = false;
    this.#lastStart = Date.now();
    if (isIP(this.#host) !== 0) {
      this.#listener.onAddresses([{ host: this.#host, port: this.#port }]);
      return;
    }
    this.#running = true;
    this.#lookup().then(
      (addresses) => this.#settle(addresses, undefined),
      (err: NodeJS.ErrnoException) => this.#settle(undefined, err),
    );
  }

  async #lookup(): Promise<Address[]> {
    const port = this.#port;
    if (this.#server === undefined) {
      const found = await dns.promises.lookup(this.#host, { all: true, verbatim: true });
      return found.map((a) => ({ host: a.address, port }));
    }
    const [v6, v4] = await Promise.allSettled([this.#server.resolve6(this.#host), this.#server.resolve4(this.#host)]);
    const out: Address[] = [];
    for (const r of [v6, v4]) if (r.status === 'fulfilled') for (const host of r.value) out.push({ host, port });
    if (out.length > 0) return out;
    // Neither family answered: report the first error that is not "no such records".
    const errors = [v6, v4].map((r) => (r.status === 'rejected' ? (r.reason as NodeJS.ErrnoException) : undefined));
    const hard = errors.find((e) => e !== undefined && !isNoRecords(e));
    if (hard !== undefined) throw hard;
    return [];
  }

  #settle(addresses: Address[] | undefined, err: NodeJS.ErrnoException | undefined): void {
    this.#running = false;
    if (this.#closed) return;
    const name = formatHostPort(this.#host, this.#port);
    // On failure the retry is armed before the listener hears of it, so that the re-resolution
    // the load balancer asks for in return joins the retry instead of resolving at once.
    if (err !== undefined && !isNoRecords(err)) {
      this.#retryLater();
      this.#listener.onError(`DNS resolution of ${name} failed: ${err.code ?? err.message}`);
      return;
    }
    if (addresses === undefined || addresses.length === 0) {
      this.#retryLater();
      this.#listener.onAddresses([], `DNS resolution of ${name} found no addresses`);
      return;
    }
    this.#backoff.reset();
    this.#listener.onAddresses(addresses);
    if (this.#wanted) this.resolveNow();
  }

  #retryLater(): void {
    // The retry follows the backoff alone, as grpc-core's polling resolver does: the minimum time
    // between resolutions limits requests for re-resolution, and holding a retry to it (30 s by
    // default) would keep a channel failing long after the name came back.
    const delay = this.#backoff.next();
    this.#wanted = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#schedule(delay);
    this.#retrying = true;
  }

  resetBackoff(): void {
    // A call waits for this channel (waitForReady): a pending retry after a failure runs now.
    this.#backoff.reset();
    if (!this.#retrying || this.#timer === undefined || this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#retrying = false;
    this.#resolve();
  }
}

function isNoRecords(err: NodeJS.ErrnoException): boolean {
  return err.code === dns.NOTFOUND || err.code === dns.NODATA || err.code === 'ENOTFOUND';
}

/**
 * The DNS server named in the target's authority, as `ip:port` (port 53 when none is given), or
 * undefined when the target names none. grpc-core takes only an IP address there: a name would
 * need a resolver of its own.
 * @throws TypeError / RangeError for an authority that is not `ip[:port]`
 */
function dnsServer(target: TargetUri): string | undefined {
  if (target.authority === '') return undefined;
  const { host, port } = parseHostPort(target.authority, 53, target.text);
  if (isIP(host) === 0) throw new TypeError(`Cannot parse target "${target.text}": DNS server "${target.authority}" is not an IP address`);
  return formatHostPort(host, port);
}

/** The `dns:` resolver, registered by resolver.ts. @internal */
export const dnsResolver: ResolverProvider = {
  create: (target, listener, options) => new DnsResolver(target, listener, options),
  authority(target, options) {
    dnsServer(target);
    const { host, port } = parseHostPort(target.endpoint, options.defaultPort, target.text);
    return { authority: formatHostPort(host, port), host };
  },
};
