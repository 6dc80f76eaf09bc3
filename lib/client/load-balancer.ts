import type { RpcError } from '../protocol/core.js';
import type { Address, ConnectivityState } from '../transport/index.js';
import { pickFirst } from './pick-first.js';
import { roundRobin } from './round-robin.js';

/*
 * Load balancing (grpc/grpc doc/load-balancing.md, gRFC A61): the resolver's addresses go to
 * the channel's policy; the policy makes a subchannel per address it wants, watches their
 * states, and publishes the channel's state with a picker that chooses a subchannel for each
 * call. Calls wait while the picker queues them, and fail fast (unless waitForReady) while it
 * fails them.
 */

/** A connection to one address, made for a policy by {@link LoadBalancerHelper.createSubchannel}. */
export interface Subchannel {
  /** The address it connects to. */
  readonly address: Address;
  /**
   * Its state: READY when calls can start on it. With client-side health checking (gRFC A17)
   * it is READY only while the server says SERVING.
   */
  readonly state: ConnectivityState;
  /** Why it last failed, or ''. */
  readonly lastError: string;
  /** Starts connecting when IDLE. A subchannel in TRANSIENT_FAILURE retries on its own after its backoff. */
  connect(): void;
  /** Calls `listener` on each state change; returns the remover. */
  onStateChange(listener: (state: ConnectivityState) => void): () => void;
  /** Skips the remaining backoff. */
  resetBackoff(): void;
  /** Releases it: no new calls; calls in progress finish first. */
  close(): void;
}

/**
 * What a picker answers for a call: a subchannel (READY when picked), `undefined` to make the
 * call wait for the next picker, or an error to fail it (waitForReady calls wait instead).
 */
export type Pick = Subchannel | RpcError | undefined;

/** Chooses a subchannel for each call; made anew by the policy on every state change. */
export interface Picker {
  /** Chooses for one call; called once per call attempt, and again when a picked connection died. */
  pick(): Pick;
}

/** What a policy can ask of its channel. */
export interface LoadBalancerHelper {
  /**
   * A new subchannel for `address`, IDLE until connected. `healthCheck` asks for client-side
   * health checking (gRFC A17) when the service config names a `healthCheckConfig`; pick_first
   * does not ask for it, round_robin does.
   */
  createSubchannel(address: Address, options?: { readonly healthCheck?: boolean }): Subchannel;
  /** Publishes the channel's state and the picker calls use from now on. */
  updateState(state: Exclude<ConnectivityState, 'SHUTDOWN'>, picker: Picker): void;
  /** Asks the resolver for a new address list (rate-limited there). */
  requestReresolution(): void;
}

/** A running policy of one channel. */
export interface LoadBalancer {
  /** The resolver's latest addresses and this policy's config from the service config (`{}` when none). */
  updateAddresses(addresses: readonly Address[], config: object, note?: string): void;
  /** The resolver failed; with no addresses yet, the channel is in TRANSIENT_FAILURE with `message`. */
  resolverError(message: string): void;
  /** Starts connecting when IDLE (a call is waiting, or getState(true)). */
  exitIdle(): void;
  /** Skips the backoff of its subchannels. */
  resetBackoff(): void;
  /** Closes its subchannels. */
  close(): void;
}

/** A load-balancing policy, for {@link registerLoadBalancer}. */
export interface LoadBalancerProvider {
  /** Starts the policy for one channel. */
  create(helper: LoadBalancerHelper): LoadBalancer;
  /**
   * Checks this policy's entry of a service config's `loadBalancingConfig` and returns it
   * parsed; absent, any object is taken as it is.
   * @throws TypeError for a config the policy cannot use
   */
  parseConfig?(config: unknown): object;
}

const policies = new Map<string, LoadBalancerProvider>([
  ['pick_first', pickFirst],
  ['round_robin', roundRobin],
]);

/**
 * Registers a load-balancing policy under `name`, for a service config's
 * `loadBalancingConfig: [{ name: {...} }]` or `grpc.lb_policy_name`. `pick_first` and
 * `round_robin` are built in; registering one of those names replaces it for new channels.
 *
 * @param name - the policy's name in service configs
 * @param provider - creates the policy per channel
 * @throws TypeError for an empty name or a provider without create
 */
export function registerLoadBalancer(name: string, provider: LoadBalancerProvider): void {
  if (typeof name !== 'string' || name === '') throw new TypeError('Cannot register load balancer: expected a non-empty name');
  if (typeof provider?.create !== 'function') throw new TypeError(`Cannot register load balancer "${name}": expected an object with a create function`);
  policies.set(name, provider);
}

/** The policy a channel uses and its parsed config. @internal */
export interface ChosenPolicy {
  readonly name: string;
  readonly provider: LoadBalancerProvider;
  readonly config: object;
}

/**
 * Chooses the policy as gRPC does (doc/service_config.md, gRFC A24): the first entry of the
 * service config's `loadBalancingConfig` whose policy is registered; else its
 * `loadBalancingPolicy` name; else `grpc.lb_policy_name`; else pick_first.
 * @internal
 * @throws TypeError when the config names only unknown policies, or a policy refuses its config
 */
export function choosePolicy(serviceConfig: { readonly loadBalancingConfig?: unknown; readonly loadBalancingPolicy?: unknown } | undefined, lbPolicyName: string | undefined): ChosenPolicy {
  const list = serviceConfig?.loadBalancingConfig;
  if (list !== undefined) {
    if (!Array.isArray(list)) throw new TypeError('Cannot use option "grpc.service_config": loadBalancingConfig must be a list');
    const names: string[] = [];
    for (const entry of list as unknown[]) {
      const keys = entry !== null && typeof entry === 'object' ? Object.keys(entry) : [];
      if (keys.length !== 1) throw new TypeError('Cannot use option "grpc.service_config": each loadBalancingConfig entry must have exactly one policy name');
      const name = keys[0]!;
      names.push(name);
      const provider = policies.get(name);
      if (provider !== undefined) return { name, provider, config: parse(name, provider, (entry as Record<string, unknown>)[name]) };
    }
    throw new TypeError(`Cannot use option "grpc.service_config": no registered load-balancing policy among ${names.join(', ')}`);
  }
  const legacy = serviceConfig?.loadBalancingPolicy;
  if (legacy !== undefined) {
    // The old field is upper snake case ("ROUND_ROBIN"); gRPC takes it case-insensitively.
    const name = typeof legacy === 'string' ? legacy.toLowerCase() : '';
    const provider = policies.get(name);
    if (provider === undefined) throw new TypeError(`Cannot use option "grpc.service_config": unknown loadBalancingPolicy "${String(legacy)}"`);
    return { name, provider, config: parse(name, provider, {}) };
  }
  const name = lbPolicyName ?? 'pick_first';
  const provider = policies.get(name);
  if (provider === undefined) throw new TypeError(`Cannot use option "grpc.lb_policy_name": no load-balancing policy "${name}" is registered`);
  return { name, provider, config: parse(name, provider, {}) };
}

function parse(name: string, provider: LoadBalancerProvider, config: unknown): object {
  if (provider.parseConfig !== undefined) return provider.parseConfig(config);
  if (config === null || typeof config !== 'object') throw new TypeError(`Cannot use the config of load-balancing policy "${name}": expected an object`);
  return config;
}
