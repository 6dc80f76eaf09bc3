import type { Address, ConnectivityState } from '../transport/index.js';
import type { LoadBalancer, LoadBalancerHelper, LoadBalancerProvider, Picker, Subchannel } from './load-balancer.js';
import { addressKey, dedupe, failing, QUEUE } from './pick-first.js';

/*
 * round_robin (doc/load-balancing.md, gRFC A61): a connection to every address, kept open, and
 * calls spread over the READY ones in turn. With a healthCheckConfig in the service config, a
 * subchannel counts as READY only while its server reports SERVING (gRFC A17).
 *
 * The channel's state, from its subchannels' (A61): READY if one is; else CONNECTING if one is
 * connecting or idle; else TRANSIENT_FAILURE, which is sticky: it holds until one is READY
 * again, so a channel whose backends are all down keeps failing calls fast while it retries.
 */

class RoundRobin implements LoadBalancer {
  readonly #helper: LoadBalancerHelper;
  #subchannels = new Map<string, { subchannel: Subchannel; remove: () => void }>();
  #state: Exclude<ConnectivityState, 'SHUTDOWN'> = 'IDLE';
  #note: string | undefined;
  #closed = false;

  constructor(helper: LoadBalancerHelper) {
    this.#helper = helper;
  }

  updateAddresses(addresses: readonly Address[], _config: object, note?: string): void {
    if (this.#closed) return;
    const next = new Map<string, { subchannel: Subchannel; remove: () => void }>();
    for (const address of dedupe(addresses)) {
      const key = addressKey(address);
      const kept = this.#subchannels.get(key);
      if (kept !== undefined) {
        next.set(key, kept);
        continue;
      }
      const subchannel = this.#helper.createSubchannel(address, { healthCheck: true });
      const remove = subchannel.onStateChange((state) => this.#onState(subchannel, state));
      next.set(key, { subchannel, remove });
    }
    // An address no longer resolved: no new calls; those on it finish.
    for (const [key, entry] of this.#subchannels) {
      if (next.has(key)) continue;
      entry.remove();
      entry.subchannel.close();
    }
    this.#subchannels = next;
    this.#note = note;
    for (const { subchannel } of next.values()) subchannel.connect();
    if (next.size === 0) this.#helper.requestReresolution();
    this.#update();
  }

  resolverError(message: string): void {
    if (this.#subchannels.size === 0 || this.#state === 'TRANSIENT_FAILURE') {
      this.#state = 'TRANSIENT_FAILURE';
      this.#helper.updateState('TRANSIENT_FAILURE', failing(message));
    }
  }

  exitIdle(): void {
    for (const { subchannel } of this.#subchannels.values()) subchannel.connect();
  }

  resetBackoff(): void {
    for (const { subchannel } of this.#subchannels.values()) subchannel.resetBackoff();
  }

  close(): void {
    this.#closed = true;
    for (const { subchannel, remove } of this.#subchannels.values()) {
      remove();
      subchannel.close();
    }
    this.#subchannels.clear();
  }

  #onState(subchannel: Subchannel, state: ConnectivityState): void {
    if (this.#closed) return;
    // A connection that went away (GOAWAY, max age) is reopened at once; the resolver is asked
    // again in case the backend moved.
    if (state === 'IDLE') {
      this.#helper.requestReresolution();
      subchannel.connect();
    } else if (state === 'TRANSIENT_FAILURE') {
      this.#helper.requestReresolution();
    }
    this.#update();
  }

  #update(): void {
    const all = [...this.#subchannels.values()].map((e) => e.subchannel);
    const ready = all.filter((s) => s.state === 'READY');
    if (ready.length > 0) {
      this.#state = 'READY';
      this.#helper.updateState('READY', rotating(ready));
      return;
    }
    if (all.length === 0) {
      this.#state = 'TRANSIENT_FAILURE';
      this.#helper.updateState('TRANSIENT_FAILURE', failing(this.#note ?? 'name resolution returned no addresses'));
      return;
    }
    if (this.#state !== 'TRANSIENT_FAILURE' && all.some((s) => s.state === 'CONNECTING' || s.state === 'IDLE')) {
      this.#state = 'CONNECTING';
      this.#helper.updateState('CONNECTING', QUEUE);
      return;
    }
    if (all.every((s) => s.state === 'TRANSIENT_FAILURE') || this.#state === 'TRANSIENT_FAILURE') {
      this.#state = 'TRANSIENT_FAILURE';
      const errors = [...new Set(all.map((s) => (s.lastError === '' ? '' : `${addressKey(s.address)}: ${s.lastError}`)).filter((e) => e !== ''))];
      this.#helper.updateState('TRANSIENT_FAILURE', failing(`none of the ${all.length} addresses is ready${errors.length === 0 ? '' : ` (${errors.join('; ')})`}`));
    }
  }
}

/** Picks the READY subchannels in turn, from a random first one so that clients spread. */
function rotating(ready: readonly Subchannel[]): Picker {
  let next = Math.floor(Math.random() * ready.length);
  return {
    pick() {
      const subchannel = ready[next]!;
      next = (next + 1) % ready.length;
      return subchannel;
    },
  };
}

/** The round_robin policy, registered by load-balancer.ts. @internal */
export const roundRobin: LoadBalancerProvider = { create: (helper) => new RoundRobin(helper) };
