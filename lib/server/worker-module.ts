import type { ServiceDefinition } from '../protocol/index.js';
import type { AnyRpcMethodHandler, unaryUnaryRpcMethodHandler } from './handlers.js';
import type { MethodInvoker } from './normalize.js';
import { Server, registeredInvokers, type ServiceImplementation } from './server.js';
import type { Description } from './worker-protocol.js';

/**
 * One service in a worker handler module: a service definition with its implementation (as
 * {@link Server.addService} takes them), or method handlers by name (as
 * {@link Server.addRegisteredMethodHandlers} takes them). Every handler form the server accepts
 * works: plain and async functions, `function*`, `async function*`, functions returning iterables.
 */
export type WorkerService =
  | {
      /** The service definition (from `loadProto`, generated code or `@grpc/proto-loader`). */
      readonly definition: ServiceDefinition;
      /** The behaviors by method name, as for {@link Server.addService}. */
      readonly implementation: ServiceImplementation;
    }
  | {
      /** The full service name, e.g. `'imaging.Resizer'`. */
      readonly serviceName: string;
      /** Method handlers by method name, from {@link unaryUnaryRpcMethodHandler} and its siblings. */
      readonly methodHandlers: Readonly<Record<string, AnyRpcMethodHandler>>;
    };

/**
 * What a module served by {@link Server.addWorkerHandlers} exports as its default export: its
 * services. The module is loaded in each worker thread (closures cannot cross threads), so it
 * builds its handlers itself and keeps nothing it needs from the main thread.
 *
 * @example
 * ```ts
 * // handlers.ts
 * import type { WorkerServices } from 'grpc-iter';
 * import { hashing } from './hashing-definition.js';
 * export default [{ definition: hashing.Hasher, implementation: { hash: (request) => digest(request) } }] satisfies WorkerServices;
 * ```
 */
export type WorkerServices = readonly WorkerService[];

/** The invokers of a worker module's methods by path, and what the main thread needs to route to them. @internal */
export interface LoadedModule {
  readonly invokers: ReadonlyMap<string, MethodInvoker>;
  readonly description: Description;
}

/**
 * Loads a worker handler module and builds its invokers with the server's own registration
 * rules (an unstarted Server does the checking; it opens no port).
 * @throws TypeError when the module's default export is not a list of services
 * @internal
 */
export async function loadWorkerModule(href: string): Promise<LoadedModule> {
  const mod = (await import(href)) as { default?: unknown };
  const services = mod.default;
  if (!Array.isArray(services)) {
    throw new TypeError(`Cannot load worker handlers from "${href}": its default export must be an array of services ({ definition, implementation } or { serviceName, methodHandlers })`);
  }
  const srv = Server.create({});
  for (const entry of services as unknown[]) {
    const e = entry as Partial<{ definition: ServiceDefinition; implementation: ServiceImplementation; serviceName: string; methodHandlers: Record<string, AnyRpcMethodHandler> }> | null;
    if (e !== null && typeof e === 'object' && e.definition !== undefined) srv.addService(e.definition, e.implementation ?? {});
    else if (e !== null && typeof e === 'object' && e.serviceName !== undefined) srv.addRegisteredMethodHandlers(e.serviceName, e.methodHandlers ?? {});
    else throw new TypeError(`Cannot load worker handlers from "${href}": each service must be { definition, implementation } or { serviceName, methodHandlers }`);
  }
  const invokers = srv[registeredInvokers];
  const methods = [...invokers].map(([path, invoker]) => ({ path, requestStreaming: invoker.requestStreaming, responseStreaming: invoker.responseStreaming }));
  return { invokers, description: { methods, services: [...srv.registeredServices().keys()] } };
}
