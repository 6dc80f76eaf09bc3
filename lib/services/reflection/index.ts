/**
 * Server reflection, `grpc.reflection.v1.ServerReflection` and its v1alpha twin
 * (grpc/grpc-proto `grpc/reflection/v1/reflection.proto`), so grpcurl, Postman and other tools
 * can list a server's services, describe them and call them without the `.proto` files.
 *
 * @example
 * ```ts
 * import { server } from 'grpc-iter';
 * import { addReflection } from 'grpc-iter/reflection';
 *
 * const srv = server();
 * // ... srv.addService(...) for each service ...
 * addReflection(srv);
 * ```
 * @packageDocumentation
 */
export { addReflection, reflectionHandlers, REFLECTION_SERVICE_NAME, REFLECTION_V1ALPHA_SERVICE_NAME, type ReflectionOptions } from './reflection.js';
