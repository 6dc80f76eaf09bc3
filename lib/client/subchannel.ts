import { ClientCall, Connection, type Address, type ClientCallOptions, type ClientCallPort, type ConnectionOptions, type ConnectivityState } from '../transport/index.js';
import { HealthWatch, type HealthCheckOptions } from './health-check.js';
import type { Subchannel } from './load-balancer.js';

/**
 * A subchannel over node:http2: one {@link Connection} to one address, with its own state and
 * reconnect backoff (doc/connection-backoff.md), and the calls a picker sends to it.
 *
 * With `healthCheck` (gRFC A17), a READY connection makes the subchannel READY only once the
 * server's health service says SERVING (see health-check.ts); otherwise its state is the
 * connection's.
 * @internal
 */
export class Http2Subchannel implements Subchannel {
  readonly address: Address;
  readonly #connection: Connection;
  readonly #healthCheck: HealthCheckOptions | undefined;
  #watch: HealthWatch | undefined;
  #reported: ConnectivityState = 'IDLE';
  readonly #listeners = new Set<(state: ConnectivityState) => void>();

  constructor(address: Address, options: ConnectionOptions, healthCheck?: HealthCheckOptions) {
    this.address = address;
    this.#connection = new Connection(address, options);
    this.#healthCheck = healthCheck;
    this.#connection.onStateChange((state) => this.#onConnectionState(state));
  }

  get state(): ConnectivityState {
    const state = this.#connection.state;
    return state === 'READY' && this.#watch !== undefined ? this.#watch.state : state;
  }

  get lastError(): string {
    const watch = this.#watch;
    if (watch !== undefined && this.#connection.state === 'READY') return watch.lastError;
    return this.#connection.lastError;
  }

  connect(): void {
    this.#connection.connect();
  }

  onStateChange(listener: (state: ConnectivityState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  resetBackoff(): void {
    this.#connection.resetBackoff();
    this.#watch?.resetBackoff();
  }

  close(): void {
    // The watch first: a draining session waits for its streams, and the watch never ends by itself.
    this.#stopWatch();
    this.#connection.drain();
  }

  /** Closes the connection at once; calls on it end (the channel closed). */
  destroy(): void {
    this.#stopWatch();
    this.#connection.close();
  }

  /** Whether a call can start on it now. */
  get usable(): boolean {
    const session = this.#connection.session;
    return session !== undefined && !session.closed && !session.destroyed && this.state === 'READY';
  }

  /**
   * Opens a call as a stream on its session, counted on the connection (for keepalive without
   * calls, doc/keepalive.md) until it ends.
   * @throws RpcError when node:http2 refuses the stream
   */
  open(options: ClientCallOptions): ClientCallPort {
    const session = this.#connection.session!;
    const call = new ClientCall(session, options);
    call.onDone(this.#connection.trackCall());
    return call;
  }

  #onConnectionState(state: ConnectivityState): void {
    this.#stopWatch();
    const session = this.#connection.session;
    if (state === 'READY' && this.#healthCheck !== undefined && session !== undefined) {
      const watch = new HealthWatch(session, this.#healthCheck, () => {
        if (this.#watch === watch) this.#report();
      });
      this.#watch = watch;
      this.#report();
      watch.start();
      return;
    }
    this.#report();
    if (state === 'SHUTDOWN') this.#listeners.clear();
  }

  #stopWatch(): void {
    const watch = this.#watch;
    this.#watch = undefined;
    watch?.close();
  }

  #report(): void {
    const state = this.state;
    if (state === this.#reported) return;
    this.#reported = state;
    for (const l of [...this.#listeners]) l(state);
  }
}
