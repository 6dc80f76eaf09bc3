import { isIP } from 'node:net';
import { RpcError, StatusCode } from '../protocol/core.js';
import type { Address, ConnectivityState } from '../transport/index.js';
import { formatHostPort } from './host-port.js';
import type { LoadBalancer, LoadBalancerHelper, LoadBalancerProvider, Picker, Subchannel } from './load-balancer.js';

/*
 * pick_first (gRFC A61): one connection for all calls, to the first address that connects.
 *
 *   IDLE ──exitIdle──► CONNECTING: a pass over the addresses, in order; the next one starts when
 *     ▲                the current fails, or after 250 ms still connecting (Happy Eyeballs,
 *     │                RFC 8305), so one slow address does not hold the channel up
 *     │                   │ first READY wins; the others are closed
 *     │                   ▼
 *     └── it leaves READY ── READY (every call on it)
 *
 *   every address failed ──► TRANSIENT_FAILURE, sticky: the subchannels keep retrying after
 *   their backoffs and the first to connect is chosen; a re-resolution is asked for each time
 *   all of them have failed once more.
 */

/** How long a connection attempt runs before the next address is tried too (gRFC A61). */
export const CONNECTION_ATTEMPT_DELAY_MS = 250;

/** The key of an address, to keep one subchannel per address. @internal */
export function addressKey(address: Address): string {
  return 'path' in address ? `unix:${address.path}` : formatHostPort(address.host, address.port);
}

/** The addresses without repeats, in their first order. @internal */
export function dedupe(addresses: readonly Address[]): Address[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const key = addressKey(a);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Interleaves IPv6 and other addresses, starting with the family of the first (RFC 8305 §4,
 * as gRFC A61 asks), so a broken family costs at most one attempt delay.
 * @internal
 */
export function interleaveFamilies(addresses: readonly Address[]): Address[] {
  const v6 = (a: Address): boolean => !('path' in a) && isIP(a.host) === 6;
  const first = addresses.filter((a) => v6(a) === v6(addresses[0]!));
  const second = addresses.filter((a) => v6(a) !== v6(addresses[0]!));
  const out: Address[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i++) {
    if (i < first.length) out.push(first[i]!);
    if (i < second.length) out.push(second[i]!);
  }
  return out;
}

/** A picker that makes calls wait. @internal */
export const QUEUE: Picker = { pick: () => undefined };

/** A picker that fails calls with UNAVAILABLE and `message`. @internal */
export function failing(message: string): Picker {
  const error = new RpcError(StatusCode.UNAVAILABLE, message);
  return { pick: () => error };
}

interface PickFirstConfig {
  readonly shuffleAddressList: boolean;
}

class PickFirst implements LoadBalancer {
  readonly #helper: LoadBalancerHelper;
  #addresses: Address[] = [];
  // Subchannels made so far, by address key; made when a pass reaches their address.
  readonly #subchannels = new Map<string, { subchannel: Subchannel; remove: () => void }>();
  #selected: Subchannel | undefined;
  #state: Exclude<ConnectivityState, 'SHUTDOWN'> = 'IDLE';
  #next = 0;
  #attemptTimer: NodeJS.Timeout | undefined;
  // The subchannels that failed since the last re-resolution request, while sticky.
  readonly #failedSince = new Set<Subchannel>();
  #closed = false;

  constructor(helper: LoadBalancerHelper) {
    this.#helper = helper;
  }

  updateAddresses(addresses: readonly Address[], config: object, note?: string): void {
    if (this.#closed) return;
    let list = dedupe(addresses);
    if ((config as PickFirstConfig).shuffleAddressList) list = shuffle(list);
    list = list.length === 0 ? list : interleaveFamilies(list);
    this.#addresses = list;
    const keep = new Set(list.map(addressKey));
    for (const [key, entry] of this.#subchannels) {
      if (keep.has(key)) continue;
      entry.remove();
      entry.subchannel.close();
      this.#subchannels.delete(key);
      if (entry.subchannel === this.#selected) this.#selected = undefined;
    }
    if (list.length === 0) {
      this.#stopPass();
      this.#report('TRANSIENT_FAILURE', failing(note ?? 'name resolution returned no addresses'));
      this.#helper.requestReresolution();
      return;
    }
    // A61: a new list keeps the chosen connection while its address is still in the list.
    if (this.#selected !== undefined) return;
    if (this.#state === 'TRANSIENT_FAILURE') {
      // Sticky: no new pass (it would end at once, the old addresses still backing off); the
      // new addresses join the retrying ones.
      for (const address of list) this.#subchannel(address).connect();
      return;
    }
    this.#startPass();
  }

  resolverError(message: string): void {
    if (this.#addresses.length === 0 || this.#state === 'TRANSIENT_FAILURE') this.#report('TRANSIENT_FAILURE', failing(message));
  }

  exitIdle(): void {
    if (this.#state === 'IDLE' && this.#addresses.length > 0 && !this.#closed) this.#startPass();
  }

  resetBackoff(): void {
    for (const { subchannel } of this.#subchannels.values()) subchannel.resetBackoff();
  }

  close(): void {
    this.#closed = true;
    this.#stopPass();
    for (const { subchannel, remove } of this.#subchannels.values()) {
      remove();
      subchannel.close();
    }
    this.#subchannels.clear();
    this.#selected = undefined;
  }

  #report(state: Exclude<ConnectivityState, 'SHUTDOWN'>, picker: Picker): void {
    this.#state = state;
    this.#helper.updateState(state, picker);
  }

  #subchannel(address: Address): Subchannel {
    const key = addressKey(address);
    const existing = this.#subchannels.get(key);
    if (existing !== undefined) return existing.subchannel;
    const subchannel = this.#helper.createSubchannel(address);
    const remove = subchannel.onStateChange((state) => this.#onState(subchannel, state));
    this.#subchannels.set(key, { subchannel, remove });
    return subchannel;
  }

  #startPass(): void {
    this.#stopPass();
    this.#failedSince.clear();
    this.#next = 0;
    if (this.#state !== 'TRANSIENT_FAILURE') this.#report('CONNECTING', QUEUE);
    this.#tryNext();
  }

  #stopPass(): void {
    if (this.#attemptTimer !== undefined) clearTimeout(this.#attemptTimer);
    this.#attemptTimer = undefined;
  }

  /** Starts the next address of the pass; one already READY ends the pass. */
  #tryNext(): void {
    this.#stopPass();
    while (this.#next < this.#addresses.length) {
      const subchannel = this.#subchannel(this.#addresses[this.#next++]!);
      if (subchannel.state === 'READY') {
        this.#select(subchannel);
        return;
      }
      if (subchannel.state === 'TRANSIENT_FAILURE') continue; // still backing off from before: next
      subchannel.connect();
      if (this.#next < this.#addresses.length) {
        this.#attemptTimer = setTimeout(() => this.#tryNext(), CONNECTION_ATTEMPT_DELAY_MS);
        this.#attemptTimer.unref();
      }
      return;
    }
    this.#checkAllFailed();
  }

  #select(subchannel: Subchannel): void {
    this.#stopPass();
    this.#selected = subchannel;
    for (const [key, entry] of this.#subchannels) {
      if (entry.subchannel === subchannel) continue;
      entry.remove();
      entry.subchannel.close();
      this.#subchannels.delete(key);
    }
    this.#report('READY', { pick: () => subchannel });
  }

  #onState(subchannel: Subchannel, state: ConnectivityState): void {
    if (this.#closed) return;
    if (subchannel === this.#selected) {
      if (state === 'READY') return;
      // A61: the connection went away (GOAWAY, a failure): IDLE until a call needs one again,
      // with a fresh address list by then.
      this.#selected = undefined;
      for (const [key, entry] of this.#subchannels) {
        if (entry.subchannel !== subchannel) continue;
        entry.remove();
        subchannel.close();
        this.#subchannels.delete(key);
      }
      this.#helper.requestReresolution();
      this.#report('IDLE', { pick: () => (queueMicrotask(() => this.exitIdle()), undefined) });
      return;
    }
    if (this.#selected !== undefined) return;
    if (state === 'READY') {
      this.#select(subchannel);
      return;
    }
    if (state !== 'TRANSIENT_FAILURE') return;
    if (this.#state === 'TRANSIENT_FAILURE') {
      // Sticky: re-resolve each time every address has failed again.
      this.#report('TRANSIENT_FAILURE', failing(this.#failureMessage(subchannel)));
      this.#failedSince.add(subchannel);
      if (this.#failedSince.size >= this.#subchannels.size) {
        this.#failedSince.clear();
        this.#helper.requestReresolution();
      }
      return;
    }
    this.#failedSince.add(subchannel);
    // The attempt in progress failed: the next address now, not after the attempt delay.
    const current = this.#addresses[this.#next - 1];
    if (current !== undefined && addressKey(current) === addressKey(subchannel.address)) this.#tryNext();
    else this.#checkAllFailed();
  }

  /**
   * Ends the pass in TRANSIENT_FAILURE once every address has failed at least once in it (A61):
   * by then the first ones may be connecting again after their backoff.
   */
  #checkAllFailed(): void {
    if (this.#next < this.#addresses.length) return;
    const all = this.#addresses.map((a) => this.#subchannels.get(addressKey(a))?.subchannel);
    if (!all.every((s) => s !== undefined && (s.state === 'TRANSIENT_FAILURE' || this.#failedSince.has(s)))) return;
    this.#failedSince.clear();
    this.#report('TRANSIENT_FAILURE', failing(this.#failureMessage(all[all.length - 1]!)));
    this.#helper.requestReresolution();
  }

  #failureMessage(subchannel: Subchannel): string {
    const n = this.#addresses.length;
    const last = `${addressKey(subchannel.address)}${subchannel.lastError === '' ? '' : `: ${subchannel.lastError}`}`;
    return n === 1 ? `connection to ${last} failed` : `connections to all ${n} addresses failed, the last to ${last}`;
  }
}

function shuffle<T>(list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The pick_first policy, registered by load-balancer.ts. @internal */
export const pickFirst: LoadBalancerProvider = {
  create: (helper) => new PickFirst(helper),
  parseConfig(config: unknown): PickFirstConfig {
    if (config === null || typeof config !== 'object') throw new TypeError('Cannot use the pick_first config: expected an object');
    const shuffleAddressList = (config as { shuffleAddressList?: unknown }).shuffleAddressList ?? false;
    if (typeof shuffleAddressList !== 'boolean') throw new TypeError('Cannot use the pick_first config: shuffleAddressList must be a boolean');
    return { shuffleAddressList };
  },
};
