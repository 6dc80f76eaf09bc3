import { InProcessTransport, type InProcessServer } from '../transport/index.js';
import { Channel } from './channel.js';
import type { ChannelOptionsInit } from './options.js';

/** Options of {@link inProcessChannel}. */
export interface InProcessChannelOptions {
  /** Channel arguments, as for {@link insecureChannel}: message size limits, retries, service config. */
  readonly options?: ChannelOptionsInit;
  /**
   * `false` hands messages to the server, and responses back, as the values themselves: no
   * serializer or deserializer runs on either side, and message size limits do not apply. By
   * default messages are serialized and deserialized as over the network, so codec bugs show
   * up in tests.
   * @default true
   */
  readonly serialize?: boolean;
}

/**
 * A channel to a server in the same process (grpcio's `grpc_testing`, connect-es's router
 * transport): no socket and no HTTP/2, the same semantics as a network call — metadata both
 * ways (`-bin` values as bytes), deadlines, cancellation both ways, status and trailers,
 * message size limits, interceptors on both sides, backpressure. The server may be started or
 * not (its ports play no part); once it stops, calls get `UNAVAILABLE`. Peers are reported as
 * `inproc`, and nothing is compressed.
 *
 * @param server - the server whose handlers answer the calls
 * @param config - channel arguments, and whether messages are serialized
 * @returns the channel; `createClient` and generated clients take it like any other
 * @throws TypeError when `server` is not a Server
 *
 * @example
 * ```ts
 * const srv = server();
 * srv.addService(Greeter, { sayHello: ({ name }) => ({ message: `Hello ${name}` }) });
 * const greeter = createClient(Greeter, inProcessChannel(srv));
 * assert.equal((await greeter.sayHello({ name: 'test' })).message, 'Hello test');
 * ```
 */
export function inProcessChannel(server: InProcessServer, config: InProcessChannelOptions = {}): Channel {
  const serialize = config.serialize ?? true;
  if (typeof serialize !== 'boolean') throw new TypeError('Cannot create in-process channel: serialize must be a boolean');
  return Channel.overTransport(new InProcessTransport(server, !serialize), 'localhost', config.options);
}
