import type { ClientHttp2Session } from 'node:http2';
import type { ClientCallOptions, ClientCallPort, ClientTransport } from './call-port.js';
import { ClientCall } from './client-call.js';
import { Connection, unavailable, type Address, type ConnectionOptions, type ConnectivityState } from './client-connection.js';

/**
 * Where a channel's calls go over node:http2: one {@link Connection} per resolved address,
 * opened when the first call needs it and tried one at a time in address order (pick_first,
 * doc/load-balancing.md), each call an HTTP/2 stream on the chosen connection's session.
 * @internal
 */
export class Http2ClientTransport implements ClientTransport {
  readonly secure: boolean;
  readonly #connections: Connection[];

  /**
   * @param addresses - the resolved addresses, in the order pick_first tries them
   * @param options - connection settings; `tls` set makes the transport secure
   */
  constructor(addresses: readonly Address[], options: ConnectionOptions) {
    this.secure = options.tls !== undefined;
    this.#connections = addresses.map((address) => new Connection(address, options));
  }

  /**
   * The state of the connections taken together: READY if one is, else CONNECTING if one is,
   * else TRANSIENT_FAILURE once every connection tried has failed, else IDLE.
   */
  getState(tryToConnect: boolean): Exclude<ConnectivityState, 'SHUTDOWN'> {
    if (tryToConnect) this.#connect();
    const states = this.#connections.map((c) => c.state);
    if (states.includes('READY')) return 'READY';
    if (states.includes('CONNECTING')) return 'CONNECTING';
    if (states.every((s) => s === 'TRANSIENT_FAILURE')) return 'TRANSIENT_FAILURE';
    if (states.includes('TRANSIENT_FAILURE') && !states.includes('IDLE')) return 'TRANSIENT_FAILURE';
    return 'IDLE';
  }

  /** Calls `listener` on every state change of any connection. */
  onStateChange(listener: () => void): void {
    for (const c of this.#connections) c.onStateChange(listener);
  }

  /** Whether a connection has a live session to open a stream on. */
  ready(): boolean {
    return this.#ready() !== undefined;
  }

  /**
   * Opens the call as a stream on the first live session, counted on its connection (for
   * keepalive without calls, doc/keepalive.md) until the call ends.
   * @throws RpcError UNAVAILABLE when no session is live; what node:http2 refuses, as a status
   */
  open(options: ClientCallOptions): ClientCallPort {
    const ready = this.#ready();
    if (ready === undefined) throw unavailable('Cannot start call: no connection is ready');
    const call = new ClientCall(ready.session, options);
    const untrack = ready.connection.trackCall();
    call.onDone(untrack);
    return call;
  }

  /** Why the first connection that failed last failed, or ''. */
  lastError(): string {
    return this.#connections.map((c) => c.lastError).find((e) => e !== '') ?? '';
  }

  /** Skips the backoff of every connection waiting out one. */
  resetBackoff(): void {
    for (const c of this.#connections) c.resetBackoff();
  }

  /** Closes every connection; calls on them end. */
  close(): void {
    for (const c of this.#connections) c.close();
  }

  #connect(): void {
    // pick_first: one connection at a time, in address order.
    if (this.#connections.some((c) => c.state === 'READY' || c.state === 'CONNECTING')) return;
    const idle = this.#connections.find((c) => c.state === 'IDLE');
    idle?.connect();
  }

  #ready(): { session: ClientHttp2Session; connection: Connection } | undefined {
    for (const connection of this.#connections) {
      const session = connection.session;
      if (session !== undefined && !session.closed && !session.destroyed) return { session, connection };
    }
    return undefined;
  }
}
