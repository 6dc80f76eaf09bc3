/**
 * Loading `.proto` files into service definitions and message types, with protobufjs.
 *
 * @example
 * ```ts
 * import { loadProto } from 'grpc-iter/proto';
 * const { helloworld } = loadProto('helloworld.proto', { includeDirs: ['protos'] });
 * ```
 * @packageDocumentation
 */
export { loadProto, ProtoLoadError, type LoadProtoOptions, type MessageType, type ProtoNamespace } from './load.js';
export { generateTypeScript, type GenerateOptions, type GeneratedFile } from './codegen.js';
export { fileDescriptorsOf, FILE_DESCRIPTORS } from './descriptor.js';
