import { ClientCall, Connection, type Address, type ClientCallOptions, type ClientCallPort, type ConnectionOptions, type ConnectivityState } from '../transport/index.js';
import type { Subchannel } from './load-balancer.js';

/**
 * A subchannel over node:http2: one {@link Connection} to one address, with its own state and
 * reconnect backoff (doc/connection-backoff.md), and the calls a picker sends to it.
 * @internal
 */
export class Http2Subchannel implements Subchannel {
  readonly address: Address;
  readonly #connection: Connection;

  constructor(address: Address, options: ConnectionOptions) {
    this.address = address;
    this.#connection = new Connection(address, options);
  }

  get state(): ConnectivityState {
    return this.#connection.state;
  }

  get lastError(): string {
    return this.#connection.lastError;
  }

  connect(): void {
    this.#connection.connect();
  }

  onStateChange(listener: (state: ConnectivityState) => void): () => void {
    return this.#connection.onStateChange(listener);
  }

  resetBackoff(): void {
    this.#connection.resetBackoff();
  }

  close(): void {
    this.#connection.drain();
  }

  /** Closes the connection at once; calls on it end (the channel closed). */
  destroy(): void {
    this.#connection.close();
  }

  /** Whether a call can start on it now. */
  get usable(): boolean {
    const session = this.#connection.session;
    return session !== undefined && !session.closed && !session.destroyed;
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
}
