import { existsSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import protobuf from 'protobufjs';
import type { MethodDefinition, ServiceDefinition } from '../protocol/index.js';
import { FILE_DESCRIPTORS, buildFileDescriptors, protoFileName, withDependencies, type FileDescriptorEntry } from './descriptor.js';

/** How `.proto` files are loaded and how messages look in JavaScript (as `@grpc/proto-loader` takes them). */
export interface LoadProtoOptions {
  /** Folders searched for the files and their imports, in order. */
  readonly includeDirs?: readonly string[];
  /** Keep field names as written (`point_count`) instead of lowerCamelCase (`pointCount`). @defaultValue false */
  readonly keepCase?: boolean;
  /** How 64-bit integers appear: `String` or `Number`. @defaultValue String */
  readonly longs?: typeof String | typeof Number;
  /** How enums appear: `String` (names) or left out for numbers. */
  readonly enums?: typeof String;
  /** How `bytes` appear: `String` (base64), `Array`, or left out for Buffers. */
  readonly bytes?: typeof String | typeof Array;
  /** Set unset fields to their defaults in decoded messages. @defaultValue false */
  readonly defaults?: boolean;
  /** Set the virtual oneof field to the name of the field present. @defaultValue false */
  readonly oneofs?: boolean;
  /** Give unset repeated fields an empty array. @defaultValue false */
  readonly arrays?: boolean;
}

/** A message type: encode and decode plain objects. */
export interface MessageType<T = Record<string, unknown>> {
  /** The type's full name, e.g. `routeguide.Point`. */
  readonly fullName: string;
  /** Encodes a plain object (checked and converted as protobufjs `fromObject` does). */
  encode(value: T): Uint8Array;
  /** Decodes bytes into a plain object, with the load options applied. */
  decode(bytes: Uint8Array): T;
}

/** What `loadProto` returns: packages as nested objects, holding service definitions and message types. */
export interface ProtoNamespace {
  readonly [name: string]: ProtoNamespace | ServiceDefinition | MessageType;
}

/** A `.proto` file could not be loaded: missing, malformed, or naming an unknown type. */
export class ProtoLoadError extends Error {
  /**
   * @param message - what went wrong, naming the file and, where known, the line
   * @param options - the underlying error
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtoLoadError';
  }
}

function conversion(options: LoadProtoOptions): protobuf.IConversionOptions {
  const c: protobuf.IConversionOptions = { longs: options.longs ?? String };
  if (options.enums !== undefined) c.enums = options.enums;
  if (options.bytes !== undefined) c.bytes = options.bytes;
  if (options.defaults !== undefined) c.defaults = options.defaults;
  if (options.oneofs !== undefined) c.oneofs = options.oneofs;
  if (options.arrays !== undefined) c.arrays = options.arrays;
  return c;
}

function messageType(type: protobuf.Type, convert: protobuf.IConversionOptions): MessageType {
  return {
    fullName: type.fullName.replace(/^\./, ''),
    encode: (value) => type.encode(type.fromObject(value)).finish(),
    decode: (bytes) => type.toObject(type.decode(bytes), convert),
  };
}

type Descriptors = (service: protobuf.Service) => readonly Uint8Array[];

function serviceDefinition(service: protobuf.Service, convert: protobuf.IConversionOptions, descriptors: Descriptors): ServiceDefinition {
  const name = service.fullName.replace(/^\./, '');
  const definition: Record<string, MethodDefinition<Record<string, unknown>, Record<string, unknown>>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const request = messageType(method.resolvedRequestType!, convert);
    const response = messageType(method.resolvedResponseType!, convert);
    definition[method.name] = {
      path: `/${name}/${method.name}`,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: request.encode,
      requestDeserialize: request.decode,
      responseSerialize: response.encode,
      responseDeserialize: response.decode,
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  // For server reflection, built on first use; non-enumerable, so the methods are all a spread sees.
  Object.defineProperty(definition, FILE_DESCRIPTORS, { value: () => descriptors(service) });
  return definition;
}

// Packages become nested objects; a message's nested types sit beside it as `Outer.Inner`.
function walk(ns: protobuf.NamespaceBase, convert: protobuf.IConversionOptions, descriptors: Descriptors, into: Record<string, unknown>, prefix = ''): void {
  for (const child of ns.nestedArray) {
    const key = prefix + child.name;
    if (child instanceof protobuf.Service) into[key] = serviceDefinition(child, convert, descriptors);
    else if (child instanceof protobuf.Type) {
      into[key] = messageType(child, convert);
      walk(child, convert, descriptors, into, `${key}.`);
    } else if (child instanceof protobuf.Namespace) {
      walk(child, convert, descriptors, (into[key] ??= {}) as Record<string, unknown>);
    }
  }
}

/**
 * Parses `.proto` files and their imports into one resolved protobufjs root (shared by
 * {@link loadProto} and the code generator).
 * @throws ProtoLoadError naming the file (and line, for a syntax error)
 * @internal
 */
export function loadRoot(files: string | readonly string[], options: { includeDirs?: readonly string[]; keepCase?: boolean; comments?: boolean }): protobuf.Root {
  const list = typeof files === 'string' ? [files] : [...files];
  if (list.length === 0 || list.some((f) => typeof f !== 'string' || f === '')) throw new TypeError('Cannot load protos: expected one or more file paths');
  const includeDirs = options.includeDirs ?? [];
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return target;
    for (const dir of includeDirs) {
      const candidate = resolvePath(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  const parseOptions: protobuf.IParseOptions = { keepCase: options.keepCase ?? false, alternateCommentMode: options.comments ?? false };
  for (const file of list) {
    try {
      root.loadSync(file, parseOptions);
    } catch (err) {
      const message = (err as Error).message;
      if ((err as { code?: string }).code === 'ENOENT') throw new ProtoLoadError(`Cannot load "${file}": file not found (searched ${includeDirs.length > 0 ? includeDirs.join(', ') : 'the working directory'})`, { cause: err });
      throw new ProtoLoadError(`Cannot load "${file}": ${message}`, { cause: err });
    }
  }
  try {
    root.resolveAll();
  } catch (err) {
    throw new ProtoLoadError(`Cannot load "${list.join('", "')}": ${(err as Error).message}`, { cause: err });
  }
  return root;
}

/**
 * Loads `.proto` files into service definitions and message types (the counterpart of
 * `@grpc/proto-loader` plus `grpc.loadPackageDefinition`). Google's well-known types
 * (`google/protobuf/timestamp.proto`, `duration`, `any`, `struct`, `empty`, `wrappers`, ...)
 * resolve without being shipped. Each service definition also carries the `FileDescriptorProto`s
 * of its file and the files it imports (as protoc would write them), which server reflection
 * serves: see {@link fileDescriptorsOf}. Services are {@link ServiceDefinition}s for
 * `server.addService` and `createClient`; messages are {@link MessageType}s.
 *
 * @param files - one or more `.proto` paths (relative ones are looked up in `includeDirs` first)
 * @param options - include folders and how messages look in JavaScript
 * @returns packages as nested objects
 * @throws ProtoLoadError naming the file (and line, for a syntax error) when loading fails
 *
 * @example
 * ```ts
 * const { routeguide } = loadProto('route_guide.proto', { includeDirs: ['protos'] });
 * srv.addService(routeguide.RouteGuide as ServiceDefinition, implementation);
 * ```
 */
export function loadProto(files: string | readonly string[], options: LoadProtoOptions = {}): ProtoNamespace {
  const root = loadRoot(files, options);
  const includeDirs = options.includeDirs ?? [];
  let built: Map<string, FileDescriptorEntry> | undefined;
  const descriptors: Descriptors = (service) => {
    // Descriptors keep field names as written, so a lowerCamelCase root is loaded again as written.
    built ??= buildFileDescriptors(options.keepCase === true ? root : loadRoot(files, { includeDirs, keepCase: true }), includeDirs);
    return withDependencies(built, protoFileName(service.filename ?? '', includeDirs));
  };
  const tree: Record<string, unknown> = {};
  walk(root, conversion(options), descriptors, tree);
  return tree as ProtoNamespace;
}
