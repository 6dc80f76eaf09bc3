import type { ClientCallOptions, ClientCallPort, ClientTransport, ConnectivityState } from '../client/core.js';
import { FetchCall, REQUEST_STREAMS_UNSUPPORTED, type FetchCallConfig } from './fetch-call.js';

/**
 * Where a gRPC-Web channel's calls go: one `fetch` per call. fetch keeps its connections to
 * itself, so there is no connection state to report: always READY, and nothing to back off or
 * close (the channel cancels its calls when it closes).
 * @internal
 */
export class FetchTransport implements ClientTransport {
  readonly #config: FetchCallConfig;
  /** Whether calls go over TLS (https:), which call credentials need. */
  readonly secure: boolean;
  /** A fetch carries one request body: client-streaming and bidi calls fail at once. */
  readonly requestStreamsUnsupported = REQUEST_STREAMS_UNSUPPORTED;

  constructor(config: FetchCallConfig) {
    this.#config = config;
    this.secure = config.baseUrl.startsWith('https:');
  }

  /** @returns READY: fetch has no connection state to report */
  getState(): Exclude<ConnectivityState, 'SHUTDOWN'> {
    return 'READY';
  }

  /** The state never changes, so the listener is never called. */
  onStateChange(): void {}

  /** @returns true: a fetch can start at any time */
  ready(): boolean {
    return true;
  }

  /** Opens a call; its fetch starts when the request is sent. */
  open(options: ClientCallOptions): ClientCallPort {
    return new FetchCall(options, this.#config);
  }

  /** @returns '': there are no connection attempts of its own */
  lastError(): string {
    return '';
  }

  /** Nothing to reset: fetch manages its connections. */
  resetBackoff(): void {}

  /** Nothing to close: fetch manages its connections, and the channel cancels the calls. */
  close(): void {}
}
