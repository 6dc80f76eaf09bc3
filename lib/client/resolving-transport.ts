import { RpcError } from '../protocol/core.js';
import { unavailable, type Address, type ClientCallOptions, type ClientCallPort, type ClientTransport, type ConnectionOptions, type ConnectivityState } from '../transport/index.js';
import type { ChosenPolicy, LoadBalancer, Picker } from './load-balancer.js';
import { QUEUE } from './pick-first.js';
import type { Resolver, ResolverOptions, ResolverProvider, TargetUri } from './resolver.js';
import { Http2Subchannel } from './subchannel.js';

/** What a {@link ResolvingTransport} is built from. @internal */
export interface ResolvingTransportOptions {
  readonly uri: TargetUri;
  readonly resolver: ResolverProvider;
  readonly resolverOptions: ResolverOptions;
  readonly policy: ChosenPolicy;
  readonly connection: ConnectionOptions;
  /** healthCheckConfig.serviceName of the service config (gRFC A17), when set. */
  readonly healthCheckServiceName: string | undefined;
  /** The channel's authority and user agent, for the calls it makes itself (the health watch of gRFC A17). */
  readonly authority: string;
  readonly userAgent: string;
}

/**
 * A network channel's transport (doc/naming.md, doc/load-balancing.md): the target's resolver
 * feeds addresses to the load-balancing policy, the policy makes node:http2 subchannels and
 * publishes the state and a picker, and each call opens on the subchannel picked for it.
 * Resolution starts when the channel first tries to connect.
 * @internal
 */
export class ResolvingTransport implements ClientTransport {
  readonly secure: boolean;
  readonly #options: ResolvingTransportOptions;
  readonly #lb: LoadBalancer;
  #resolver: Resolver | undefined;
  #state: Exclude<ConnectivityState, 'SHUTDOWN'> = 'IDLE';
  #picker: Picker = QUEUE;
  // What ready() picked, for the open() that follows it: a rotating picker must not skip one.
  #picked: Http2Subchannel | undefined;
  #hasAddresses = false;
  #resolverError = '';
  readonly #listeners: Array<() => void> = [];
  // Every subchannel made, so close() can end their calls even after the policy let go.
  readonly #subchannels = new Set<Http2Subchannel>();
  #closed = false;

  constructor(options: ResolvingTransportOptions) {
    this.secure = options.connection.tls !== undefined;
    this.#options = options;
    this.#lb = options.policy.provider.create({
      createSubchannel: (address, o) => this.#createSubchannel(address, o?.healthCheck === true),
      updateState: (state, picker) => {
        if (this.#closed) return;
        this.#state = state;
        this.#picker = picker;
        this.#picked = undefined;
        for (const l of this.#listeners) l();
      },
      requestReresolution: () => this.#resolver?.resolveNow(),
    });
  }

  getState(tryToConnect: boolean): Exclude<ConnectivityState, 'SHUTDOWN'> {
    if (tryToConnect && !this.#closed) {
      if (this.#resolver === undefined) this.#startResolving();
      else this.#lb.exitIdle();
    }
    return this.#state;
  }

  onStateChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  ready(): boolean {
    if (this.#picked?.usable === true) return true;
    this.#picked = this.#pick();
    return this.#picked !== undefined;
  }

  open(options: ClientCallOptions): ClientCallPort {
    let subchannel = this.#picked?.usable === true ? this.#picked : this.#pick();
    this.#picked = undefined;
    // A connection that died between the pick and the stream: pick again (its state change has
    // already given the policy a new picker), a few times at most.
    for (let tries = 0; subchannel !== undefined; tries++) {
      try {
        return subchannel.open(options);
      } catch (err) {
        if (tries >= 2 || subchannel.usable) throw err;
        subchannel = this.#pick();
      }
    }
    throw unavailable(`Cannot start call: ${this.lastError() || 'no connection is ready'}`);
  }

  lastError(): string {
    const pick = this.#picker.pick();
    if (pick instanceof RpcError) return pick.details;
    return this.#resolverError;
  }

  resetBackoff(): void {
    this.#resolver?.resetBackoff?.();
    this.#lb.resetBackoff();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resolver?.close();
    this.#lb.close();
    for (const s of this.#subchannels) s.destroy();
    this.#subchannels.clear();
  }

  #pick(): Http2Subchannel | undefined {
    const pick = this.#picker.pick();
    return pick instanceof Http2Subchannel && pick.usable ? pick : undefined;
  }

  #createSubchannel(address: Address, healthCheck: boolean): Http2Subchannel {
    const o = this.#options;
    // gRFC A17: health checking when the service config names a service and the policy asked for it.
    const serviceName = healthCheck ? o.healthCheckServiceName : undefined;
    const subchannel = new Http2Subchannel(
      address,
      o.connection,
      serviceName === undefined
        ? undefined
        : { serviceName, authority: o.authority, userAgent: o.userAgent, initialBackoffMs: o.connection.initialBackoffMs, maxBackoffMs: o.connection.maxBackoffMs },
    );
    this.#subchannels.add(subchannel);
    subchannel.onStateChange((state) => {
      if (state === 'SHUTDOWN') this.#subchannels.delete(subchannel);
    });
    return subchannel;
  }

  #startResolving(): void {
    const o = this.#options;
    this.#state = 'CONNECTING';
    for (const l of this.#listeners) l();
    this.#resolver = o.resolver.create(
      o.uri,
      {
        onAddresses: (addresses, note) => {
          if (this.#closed) return;
          this.#hasAddresses = addresses.length > 0;
          this.#resolverError = '';
          this.#lb.updateAddresses(addresses, o.policy.config, note);
        },
        onError: (message) => {
          if (this.#closed) return;
          this.#resolverError = message;
          // gRPC keeps using the last good address list; without one, the channel fails.
          if (!this.#hasAddresses) this.#lb.resolverError(message);
        },
      },
      o.resolverOptions,
    );
  }
}
