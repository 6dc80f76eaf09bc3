import type { AnyMethodDefinition, MethodDefinition, ServiceDefinition } from '../protocol/core.js';
import type { StreamStreamMultiCallable, StreamUnaryMultiCallable, UnaryStreamMultiCallable, UnaryUnaryMultiCallable } from './call-options.js';
import type { Invoker } from './interceptors.js';

/** The streaming flags of a method definition, as literal types. */
export interface MethodKind<RequestStream extends boolean, ResponseStream extends boolean> {
  /** Whether the client streams requests. */
  readonly requestStream: RequestStream;
  /** Whether the server streams responses. */
  readonly responseStream: ResponseStream;
}

/** The request type of a method definition. */
export type RequestOf<M> = M extends MethodDefinition<infer R, infer _> ? R : never;
/** The response type of a method definition. */
export type ResponseOf<M> = M extends MethodDefinition<infer _, infer R> ? R : never;

/**
 * The client method for one method definition, by its kind. Definitions whose streaming flags
 * are literal types (generated code) get the exact callable; others get a callable of unknown
 * shape.
 */
export type ClientMethod<M> = M extends MethodKind<true, true>
  ? StreamStreamMultiCallable<RequestOf<M>, ResponseOf<M>>
  : M extends MethodKind<true, false>
    ? StreamUnaryMultiCallable<RequestOf<M>, ResponseOf<M>>
    : M extends MethodKind<false, true>
      ? UnaryStreamMultiCallable<RequestOf<M>, ResponseOf<M>>
      : M extends MethodKind<false, false>
        ? UnaryUnaryMultiCallable<RequestOf<M>, ResponseOf<M>>
        : (...args: unknown[]) => unknown;

/** A typed client: one method per RPC, named in lowerCamelCase (`GetFeature` → `getFeature`). */
export type TypedClient<D extends ServiceDefinition> = { readonly [K in keyof D & string as Uncapitalize<K>]: ClientMethod<D[K]> };

/**
 * Makes a client for a service definition (from `loadProto`, generated code or
 * `@grpc/proto-loader`), with one method per RPC typed by its kind: unary methods return a
 * Promise, streaming ones an async iterable.
 *
 * @param definition - the service definition
 * @param channel - the channel to call over, or an intercepted channel
 * @returns the client
 *
 * @example
 * ```ts
 * const client = createClient(routeguide.RouteGuide, insecureChannel('localhost:50051'));
 * const feature = await client.getFeature({ latitude: 409146138, longitude: -746188906 });
 * for await (const f of client.listFeatures(rect)) console.log(f.name);
 * ```
 */
export function createClient<D extends ServiceDefinition>(definition: D, channel: Invoker): TypedClient<D> {
  if (typeof definition !== 'object' || definition === null) throw new TypeError('Cannot create client: definition must be an object');
  const client: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition) as Array<[string, AnyMethodDefinition]>) {
    const serialize = method.requestSerialize as (value: unknown) => Uint8Array;
    const deserialize = method.responseDeserialize;
    const callable = method.requestStream
      ? method.responseStream
        ? channel.streamStream(method.path, serialize, deserialize)
        : channel.streamUnary(method.path, serialize, deserialize)
      : method.responseStream
        ? channel.unaryStream(method.path, serialize, deserialize)
        : channel.unaryUnary(method.path, serialize, deserialize);
    client[name.charAt(0).toLowerCase() + name.slice(1)] = callable;
  }
  return Object.freeze(client) as TypedClient<D>;
}
