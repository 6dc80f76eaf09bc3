import { fileDescriptorsOf } from '../../proto/index.js';
import { ProtoWriter, RpcError, StatusCode, WireType, readFields, readString, type ServiceDefinition } from '../../protocol/index.js';
import { methodHandlersGenericHandler, streamStreamRpcMethodHandler, type Server, type ServiceRpcHandler } from '../../server/index.js';
import { HEALTH_DESCRIPTOR, HEALTH_SERVICE_NAME } from '../health/index.js';
import { REFLECTION_V1ALPHA_DESCRIPTOR, REFLECTION_V1_DESCRIPTOR } from './descriptors.js';
import { decodeReflectionRequest, type ReflectionRequest } from './wire.js';

// grpc/grpc-proto grpc/reflection/v1/reflection.proto: one bidi method, ServerReflectionInfo;
// each request gets one response, in order, on the same stream. v1alpha is the same protocol
// under another package, still what many clients (older grpcurl, Postman) ask for first.

/** The full name of the reflection service, v1. */
export const REFLECTION_SERVICE_NAME = 'grpc.reflection.v1.ServerReflection';

/** The full name of the reflection service, v1alpha (deprecated by gRPC, still asked for by many clients). */
export const REFLECTION_V1ALPHA_SERVICE_NAME = 'grpc.reflection.v1alpha.ServerReflection';

/** Options of {@link addReflection}. */
export interface ReflectionOptions {
  /**
   * Only these services (full names) are listed and described; the reflection services are
   * always listed. By default every service registered on the server is.
   */
  readonly services?: readonly string[];
}

interface FileEntry {
  readonly bytes: Uint8Array;
  readonly dependencies: readonly string[];
}

/** What reflection answers from: descriptor files by name, and where each symbol is declared. */
interface ReflectionIndex {
  readonly services: readonly string[];
  readonly files: Map<string, FileEntry>;
  readonly symbols: Map<string, string>;
  readonly messages: Set<string>;
  /** Extended type → extension number → file declaring the extension. */
  readonly extensions: Map<string, Map<number, string>>;
}

const join = (scope: string, name: string): string => (scope === '' ? name : `${scope}.${name}`);
const stripDot = (name: string): string => (name.startsWith('.') ? name.slice(1) : name);

// descriptor.proto field numbers of the messages that declare symbols.
function indexExtension(bytes: Uint8Array, scope: string, file: string, index: ReflectionIndex): void {
  let name = '';
  let extendee = '';
  let number = 0;
  for (const f of readFields(bytes, 'FieldDescriptorProto')) {
    if (f.field === 1 && f.wireType === WireType.LEN) name = readString(f.bytes);
    else if (f.field === 2 && f.wireType === WireType.LEN) extendee = stripDot(readString(f.bytes));
    else if (f.field === 3 && f.wireType === WireType.VARINT) number = f.int;
  }
  index.symbols.set(join(scope, name), file);
  let numbers = index.extensions.get(extendee);
  if (numbers === undefined) index.extensions.set(extendee, (numbers = new Map()));
  if (!numbers.has(number)) numbers.set(number, file);
}

function indexEnum(bytes: Uint8Array, scope: string, file: string, index: ReflectionIndex): void {
  const values: Uint8Array[] = [];
  let name = '';
  for (const f of readFields(bytes, 'EnumDescriptorProto')) {
    if (f.field === 1 && f.wireType === WireType.LEN) name = readString(f.bytes);
    else if (f.field === 2 && f.wireType === WireType.LEN) values.push(f.bytes);
  }
  index.symbols.set(join(scope, name), file);
  // descriptor.h: enum values are siblings of their enum, `pkg.RED` rather than `pkg.Color.RED`.
  for (const value of values) {
    for (const f of readFields(value, 'EnumValueDescriptorProto')) {
      if (f.field === 1 && f.wireType === WireType.LEN) index.symbols.set(join(scope, readString(f.bytes)), file);
    }
  }
}

function indexMessage(bytes: Uint8Array, scope: string, file: string, index: ReflectionIndex): void {
  let name = '';
  const parts: Array<[number, Uint8Array]> = [];
  for (const f of readFields(bytes, 'DescriptorProto')) {
    if (f.wireType !== WireType.LEN) continue;
    if (f.field === 1) name = readString(f.bytes);
    else parts.push([f.field, f.bytes]);
  }
  const full = join(scope, name);
  index.symbols.set(full, file);
  index.messages.add(full);
  for (const [field, value] of parts) {
    if (field === 2 || field === 8) {
      // A field (2) or a oneof (8): both are named by their first field.
      for (const f of readFields(value, field === 2 ? 'FieldDescriptorProto' : 'OneofDescriptorProto')) {
        if (f.field === 1 && f.wireType === WireType.LEN) index.symbols.set(join(full, readString(f.bytes)), file);
      }
    } else if (field === 3) indexMessage(value, full, file, index);
    else if (field === 4) indexEnum(value, full, file, index);
    else if (field === 6) indexExtension(value, full, file, index);
  }
}

function indexFile(bytes: Uint8Array, index: ReflectionIndex): void {
  let name = '';
  let pkg = '';
  const dependencies: string[] = [];
  const parts: Array<[number, Uint8Array]> = [];
  for (const f of readFields(bytes, 'FileDescriptorProto')) {
    if (f.wireType !== WireType.LEN) continue;
    if (f.field === 1) name = readString(f.bytes);
    else if (f.field === 2) pkg = readString(f.bytes);
    else if (f.field === 3) dependencies.push(readString(f.bytes));
    else parts.push([f.field, f.bytes]);
  }
  // The first descriptor seen under a name is the one served.
  if (index.files.has(name)) return;
  index.files.set(name, { bytes, dependencies });
  for (const [field, value] of parts) {
    if (field === 4) indexMessage(value, pkg, name, index);
    else if (field === 5) indexEnum(value, pkg, name, index);
    else if (field === 7) indexExtension(value, pkg, name, index);
    else if (field === 6) {
      let service = '';
      const methods: Uint8Array[] = [];
      for (const f of readFields(value, 'ServiceDescriptorProto')) {
        if (f.field === 1 && f.wireType === WireType.LEN) service = readString(f.bytes);
        else if (f.field === 2 && f.wireType === WireType.LEN) methods.push(f.bytes);
      }
      const full = join(pkg, service);
      index.symbols.set(full, name);
      for (const method of methods) {
        for (const f of readFields(method, 'MethodDescriptorProto')) {
          if (f.field === 1 && f.wireType === WireType.LEN) index.symbols.set(join(full, readString(f.bytes)), name);
        }
      }
    }
  }
}

// Reflection's own services, always listed and described.
const OWN_DESCRIPTORS: Record<string, string> = {
  [REFLECTION_SERVICE_NAME]: REFLECTION_V1_DESCRIPTOR,
  [REFLECTION_V1ALPHA_SERVICE_NAME]: REFLECTION_V1ALPHA_DESCRIPTOR,
};

// Standard services this package implements with hand-written codecs, registered as generic
// handlers and so without a definition: described by their grpc-proto file when registered that
// way. A definition added with `addService` (say, from loadProto) wins.
const KNOWN_DESCRIPTORS: Record<string, string> = {
  ...OWN_DESCRIPTORS,
  [HEALTH_SERVICE_NAME]: HEALTH_DESCRIPTOR,
};

function descriptorsOf(name: string, definition: ServiceDefinition | undefined): readonly Uint8Array[] | undefined {
  const own = OWN_DESCRIPTORS[name];
  if (own !== undefined) return [Buffer.from(own, 'base64')];
  if (definition !== undefined) return fileDescriptorsOf(definition);
  const known = KNOWN_DESCRIPTORS[name];
  return known === undefined ? undefined : [Buffer.from(known, 'base64')];
}

function buildIndex(server: Server, only: ReadonlySet<string> | undefined): ReflectionIndex {
  const index: ReflectionIndex = { services: [], files: new Map(), symbols: new Map(), messages: new Set(), extensions: new Map() };
  const services: string[] = [];
  for (const [name, definition] of server.registeredServices()) {
    if (only !== undefined && OWN_DESCRIPTORS[name] === undefined && !only.has(name)) continue;
    services.push(name);
    for (const bytes of descriptorsOf(name, definition) ?? []) indexFile(bytes, index);
  }
  return { ...index, services };
}

function fileResponse(index: ReflectionIndex, file: string, sent: Set<string>): ProtoWriter {
  // grpc-go's reflection: the asked-for file always, then each transitive dependency not yet
  // sent on this stream (reflection.proto allows leaving out files sent earlier).
  const inner = new ProtoWriter();
  const visit = (name: string, asked: boolean): void => {
    if (!asked && sent.has(name)) return;
    const entry = index.files.get(name);
    if (entry === undefined) return;
    const first = !sent.has(name);
    sent.add(name);
    inner.message(1, entry.bytes);
    if (asked || first) for (const dep of entry.dependencies) visit(dep, false);
  };
  visit(file, true);
  return new ProtoWriter().message(4, inner.finish());
}

function errorResponse(code: StatusCode, message: string): ProtoWriter {
  return new ProtoWriter().message(7, new ProtoWriter().int(1, code).string(2, message).finish());
}

function answer(index: ReflectionIndex, request: ReflectionRequest, sent: Set<string>): ProtoWriter {
  switch (request.kind) {
    case 'listServices': {
      const list = new ProtoWriter();
      for (const name of index.services) list.message(1, new ProtoWriter().string(1, name).finish());
      return new ProtoWriter().message(6, list.finish());
    }
    case 'fileByFilename':
      if (!index.files.has(request.name)) return errorResponse(StatusCode.NOT_FOUND, `File not found: "${request.name}"`);
      return fileResponse(index, request.name, sent);
    case 'fileContainingSymbol': {
      const file = index.symbols.get(stripDot(request.name));
      if (file === undefined) return errorResponse(StatusCode.NOT_FOUND, `Symbol not found: "${request.name}"`);
      return fileResponse(index, file, sent);
    }
    case 'fileContainingExtension': {
      const file = index.extensions.get(stripDot(request.name))?.get(request.number);
      if (file === undefined) return errorResponse(StatusCode.NOT_FOUND, `Extension not found: "${request.name}" number ${request.number}`);
      return fileResponse(index, file, sent);
    }
    case 'allExtensionNumbersOfType': {
      const type = stripDot(request.name);
      // A known type without extensions answers an empty list: grpcurl stops on an error here.
      if (!index.messages.has(type)) return errorResponse(StatusCode.NOT_FOUND, `Type not found: "${request.name}"`);
      const numbers = [...(index.extensions.get(type)?.keys() ?? [])].sort((a, b) => a - b);
      return new ProtoWriter().message(5, new ProtoWriter().string(1, type).packed(2, numbers).finish());
    }
    case 'none':
      // As grpc C++'s reflection: a request with no known message_request is answered, not fatal.
      return errorResponse(StatusCode.UNIMPLEMENTED, 'Cannot answer reflection request: no message_request set');
  }
}

/**
 * The reflection service as generic handlers, v1 and v1alpha, answering about `server`'s
 * services. The index of descriptors is built at the first request, when the server has started
 * and its services are final.
 * @param server - the server whose services are described
 * @param options - which services to describe
 * @returns the handlers, for `addGenericRpcHandlers`
 */
export function reflectionHandlers(server: Server, options: ReflectionOptions = {}): ServiceRpcHandler[] {
  const only = options.services === undefined ? undefined : new Set(options.services);
  let index: ReflectionIndex | undefined;
  const handler = streamStreamRpcMethodHandler<Uint8Array, Uint8Array>(
    async function* (requests) {
      const sent = new Set<string>();
      for await (const raw of requests) {
        index ??= buildIndex(server, only);
        let request: ReflectionRequest;
        try {
          request = decodeReflectionRequest(raw);
        } catch (err) {
          // The codec's RangeErrors name the message already; a UTF-8 TypeError does not.
          const message = (err as Error).message;
          throw new RpcError(StatusCode.INVALID_ARGUMENT, message.startsWith('Cannot decode') ? message : `Cannot decode ServerReflectionRequest: ${message}`);
        }
        // ServerReflectionResponse: valid_host (1) and original_request (2), the request's own bytes.
        yield concat(new ProtoWriter().string(1, request.host).message(2, raw).finish(), answer(index, request, sent).finish());
      }
    },
    (bytes) => bytes,
    (bytes) => bytes,
  );
  return [
    methodHandlersGenericHandler(REFLECTION_SERVICE_NAME, { ServerReflectionInfo: handler }),
    methodHandlersGenericHandler(REFLECTION_V1ALPHA_SERVICE_NAME, { ServerReflectionInfo: handler }),
  ];
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Registers server reflection on `server` (grpcio-reflection's `enable_server_reflection`):
 * `grpc.reflection.v1.ServerReflection` and `grpc.reflection.v1alpha.ServerReflection`, so
 * grpcurl, Postman and other tools can list the services and call them without the `.proto`
 * files. Services added with `addService` from `loadProto` or `grpc-iter gen` definitions are
 * described with their original `FileDescriptorProto`s and every file they import; services
 * without descriptors (method handlers, generic handlers) are listed, and their symbols answer
 * `NOT_FOUND`; the health service of `grpc-iter/health` is described with grpc-proto's
 * `grpc/health/v1/health.proto`.
 * @param server - a server not yet started
 * @param options - which services to describe (all by default)
 * @throws Error once the server has started
 *
 * @example
 * ```ts
 * import { server } from 'grpc-iter';
 * import { loadProto } from 'grpc-iter/proto';
 * import { addReflection } from 'grpc-iter/reflection';
 *
 * const { helloworld } = loadProto('helloworld.proto', { includeDirs: ['protos'] });
 * const srv = server();
 * srv.addService(helloworld.Greeter as ServiceDefinition, { sayHello: ({ name }) => ({ message: `Hello ${name}` }) });
 * addReflection(srv);
 * ```
 */
export function addReflection(server: Server, options: ReflectionOptions = {}): void {
  server.addGenericRpcHandlers(reflectionHandlers(server, options));
}
