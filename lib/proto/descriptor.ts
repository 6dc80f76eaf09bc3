import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve as resolvePath, sep } from 'node:path';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';

// The `FileDescriptorProto`s protoc would produce for the loaded files (what server reflection
// serves, grpc/grpc-proto grpc/reflection/v1/reflection.proto): one per file, named by the path
// it is imported as, with fully qualified type names (a leading dot), dependencies listed by
// import path, json_name filled in, proto3 `optional` as synthetic oneofs placed after the real
// ones, map fields as nested `map_entry` messages, and options as written. protobufjs merges
// packages and forgets which file imported which, so each file is re-read for its imports.

/**
 * The property of a service definition holding the serialized `FileDescriptorProto`s of the file
 * that declares the service and of every file it imports, transitively (the declaring file first).
 * `loadProto` and `grpc-iter gen` set it, as a non-enumerable property; server reflection reads it.
 */
export const FILE_DESCRIPTORS: unique symbol = Symbol.for('grpc-iter.fileDescriptorProtos') as never;

/**
 * The serialized `FileDescriptorProto`s attached to a service definition: the declaring file first,
 * then its imports, transitively.
 * @param definition - a service definition from `loadProto` or `grpc-iter gen`
 * @returns the descriptors, or undefined when the definition carries none
 */
export function fileDescriptorsOf(definition: object): readonly Uint8Array[] | undefined {
  const value = (definition as { [FILE_DESCRIPTORS]?: unknown })[FILE_DESCRIPTORS];
  if (typeof value === 'function') return (value as () => readonly Uint8Array[])();
  return Array.isArray(value) ? (value as readonly Uint8Array[]) : undefined;
}

/** One file's descriptor, with its dependencies by name. @internal */
export interface FileDescriptorEntry {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly dependencies: readonly string[];
}

// descriptor.proto FieldDescriptorProto.Type
const TYPES: Record<string, number> = {
  double: 1, float: 2, int64: 3, uint64: 4, int32: 5, fixed64: 6, fixed32: 7, bool: 8, string: 9,
  bytes: 12, uint32: 13, sfixed32: 15, sfixed64: 16, sint32: 17, sint64: 18,
};

// Where protobufjs's bundled well-known types come from (it gives them no file name).
const BUNDLED: Record<string, string> = {
  Any: 'any', Api: 'api', Method: 'api', Mixin: 'api', Duration: 'duration', Empty: 'empty', FieldMask: 'field_mask',
  SourceContext: 'source_context', Struct: 'struct', Value: 'struct', NullValue: 'struct', ListValue: 'struct',
  Timestamp: 'timestamp', Type: 'type', Field: 'type', Enum: 'type', EnumValue: 'type', Option: 'type', Syntax: 'type',
  DoubleValue: 'wrappers', FloatValue: 'wrappers', Int64Value: 'wrappers', UInt64Value: 'wrappers', Int32Value: 'wrappers',
  UInt32Value: 'wrappers', BoolValue: 'wrappers', StringValue: 'wrappers', BytesValue: 'wrappers',
};

// The file options of Google's well-known type files, as in protobuf's src/google/protobuf/*.proto,
// which protobufjs's bundled copies leave out.
function bundledOptions(file: string): Record<string, unknown> {
  const base = file.replace(/^google\/protobuf\//, '').replace(/\.proto$/, '');
  const outer = `${base.split('_').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('')}Proto`;
  const go = base === 'descriptor' ? 'google.golang.org/protobuf/types/descriptorpb' : `google.golang.org/protobuf/types/known/${base.replace(/_/g, '')}pb`;
  const options: Record<string, unknown> = { javaPackage: 'com.google.protobuf', javaOuterClassname: outer, javaMultipleFiles: true, goPackage: go, objcClassPrefix: 'GPB', csharpNamespace: 'Google.Protobuf.WellKnownTypes' };
  if (base !== 'any' && base !== 'api' && base !== 'source_context') options.ccEnableArenas = true;
  return options;
}

// Drops underscores, upper-casing the letter after each (and the first one when `upperFirst`).
function camel(name: string, upperFirst: boolean): string {
  let out = '';
  let upper = upperFirst;
  for (const c of name) {
    if (c === '_') upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return out;
}

// descriptor.cc ToJsonName: `my_field` → `myField`.
function jsonName(name: string): string {
  return camel(name, false);
}

// descriptor.cc / parser.cc MapEntryName: `my_map` → `MyMapEntry`.
function mapEntryName(field: string): string {
  return `${camel(field, true)}Entry`;
}

// Options as written, keyed as descriptor.proto's messages expect; custom `(ext)` options are left out.
function optionsOf(options: Record<string, unknown> | undefined, type: protobuf.Type, skip: readonly string[] = []): Record<string, unknown> | undefined {
  if (options === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (skip.includes(key) || key.startsWith('(')) continue;
    const name = protobuf.util.camelCase(key);
    if (type.fields[name] !== undefined) out[name] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const isDeclared = (field: protobuf.Field): boolean => field.declaringField === null || field.declaringField === undefined;

// protobufjs's bundled well-known types spell some field names in lowerCamelCase (`nullValue`).
const bundledName = (field: protobuf.Field): string => (topLevel(field).filename === null ? field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : field.name);

function topLevel(obj: protobuf.ReflectionObject): protobuf.ReflectionObject {
  let o = obj;
  while (o.parent instanceof protobuf.Type) o = o.parent;
  return o;
}

function fieldProto(field: protobuf.Field, proto2: boolean, oneofIndex?: number): Record<string, unknown> {
  const name = bundledName(field);
  const out: Record<string, unknown> = { name, number: field.id, jsonName: jsonName(name) };
  field.resolve();
  const resolved = field.resolvedType;
  if (field.map) {
    out.label = 3;
    out.type = 11;
    out.typeName = `${(field.parent as protobuf.Type).fullName}.${mapEntryName(field.name)}`;
  } else {
    out.label = field.repeated ? 3 : field.required ? 2 : 1;
    if (resolved instanceof protobuf.Type) {
      out.type = field.delimited ? 10 : 11;
      out.typeName = resolved.fullName;
    } else if (resolved instanceof protobuf.Enum) {
      out.type = 14;
      out.typeName = resolved.fullName;
    } else out.type = TYPES[field.type];
  }
  if (field.extend !== undefined) out.extendee = (field.extensionField?.parent as protobuf.Type | null | undefined)?.fullName ?? field.extend;
  if (oneofIndex !== undefined) out.oneofIndex = oneofIndex;
  const options = field.options as Record<string, unknown> | undefined;
  if (proto2 && options?.default !== undefined) {
    const value = options.default;
    out.defaultValue = typeof value === 'boolean' ? String(value) : typeof value === 'number' && resolved instanceof protobuf.Enum ? (resolved.valuesById[value] ?? String(value)) : String(value);
  }
  if (options?.proto3_optional === true) out.proto3Optional = true;
  const fieldOptions = optionsOf(options, descriptor.FieldOptions, ['default', 'proto3_optional']);
  if (fieldOptions !== undefined) out.options = fieldOptions;
  return out;
}

function enumProto(e: protobuf.Enum): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: e.name,
    value: Object.entries(e.values).map(([name, number]) => {
      const v: Record<string, unknown> = { name, number };
      const o = optionsOf((e.valuesOptions as Record<string, Record<string, unknown>> | undefined)?.[name], descriptor.EnumValueOptions);
      if (o !== undefined) v.options = o;
      return v;
    }),
  };
  const options = optionsOf(e.options as Record<string, unknown> | undefined, descriptor.EnumOptions);
  if (options !== undefined) out.options = options;
  const reserved = e.reserved ?? [];
  const ranges = reserved.filter((r): r is number[] => Array.isArray(r)).map(([start, end]) => ({ start, end })); // EnumReservedRange: end inclusive
  const names = reserved.filter((r): r is string => typeof r === 'string');
  if (ranges.length > 0) out.reservedRange = ranges;
  if (names.length > 0) out.reservedName = names;
  return out;
}

function messageProto(type: protobuf.Type, proto2: boolean): Record<string, unknown> {
  // protoc numbers real oneofs first, then proto3 `optional`'s synthetic ones (descriptor.proto, proto3_optional).
  const synthetic = (o: protobuf.OneOf): boolean => o.fieldsArray.length === 1 && (o.fieldsArray[0]!.options as Record<string, unknown> | undefined)?.proto3_optional === true;
  const oneofs = [...type.oneofsArray.filter((o) => !synthetic(o)), ...type.oneofsArray.filter(synthetic)];
  const fields: Record<string, unknown>[] = [];
  const nested: Record<string, unknown>[] = [];
  const enums: Record<string, unknown>[] = [];
  const extensions: Record<string, unknown>[] = [];
  const entries: Record<string, unknown>[] = [];
  for (const field of type.fieldsArray) {
    if (!isDeclared(field)) continue;
    const index = field.partOf === null || field.partOf === undefined ? undefined : oneofs.indexOf(field.partOf);
    fields.push(fieldProto(field, proto2, index));
    if (field.map) {
      const value: Record<string, unknown> = { name: 'value', number: 2, label: 1, jsonName: 'value' };
      const resolved = field.resolvedType;
      if (resolved instanceof protobuf.Type) Object.assign(value, { type: 11, typeName: resolved.fullName });
      else if (resolved instanceof protobuf.Enum) Object.assign(value, { type: 14, typeName: resolved.fullName });
      else value.type = TYPES[field.type];
      entries.push({
        name: mapEntryName(field.name),
        field: [{ name: 'key', number: 1, label: 1, type: TYPES[(field as unknown as protobuf.MapField).keyType], jsonName: 'key' }, value],
        options: { mapEntry: true },
      });
    }
  }
  for (const child of type.nestedArray) {
    if (child instanceof protobuf.Type) nested.push(messageProto(child, proto2));
    else if (child instanceof protobuf.Enum) enums.push(enumProto(child));
    else if (child instanceof protobuf.Field && child.extend !== undefined) extensions.push(fieldProto(child, proto2));
  }
  const out: Record<string, unknown> = { name: type.name, field: fields, nestedType: [...nested, ...entries], enumType: enums, extension: extensions };
  if (oneofs.length > 0) out.oneofDecl = oneofs.map((o) => ({ name: o.name }));
  if (type.extensions !== undefined && type.extensions !== null) out.extensionRange = type.extensions.map(([start, end]) => ({ start, end: end! + 1 }));
  const reserved = type.reserved ?? [];
  const ranges = reserved.filter((r): r is number[] => Array.isArray(r)).map(([start, end]) => ({ start, end: end! + 1 })); // ReservedRange: end exclusive
  const names = reserved.filter((r): r is string => typeof r === 'string');
  if (ranges.length > 0) out.reservedRange = ranges;
  if (names.length > 0) out.reservedName = names;
  const options = optionsOf(type.options as Record<string, unknown> | undefined, descriptor.MessageOptions);
  if (options !== undefined) out.options = options;
  return out;
}

function serviceProto(service: protobuf.Service, source: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: service.name,
    method: service.methodsArray.map((m) => {
      m.resolve();
      const method: Record<string, unknown> = { name: m.name, inputType: m.resolvedRequestType!.fullName, outputType: m.resolvedResponseType!.fullName };
      // descriptor.cc MethodDescriptor::CopyTo sets the streaming flags only when true.
      if (m.requestStream === true) method.clientStreaming = true;
      if (m.responseStream === true) method.serverStreaming = true;
      const options = optionsOf(m.options as Record<string, unknown> | undefined, descriptor.MethodOptions);
      if (options !== undefined) method.options = options;
      // parser.cc gives a method written with a `{ ... }` body an (empty) options message.
      else if (new RegExp(`\\brpc\\s+${m.name}\\s*\\([^)]*\\)\\s*returns\\s*\\([^)]*\\)\\s*\\{`).test(source)) method.options = {};
      return method;
    }),
  };
  const options = optionsOf(service.options as Record<string, unknown> | undefined, descriptor.ServiceOptions);
  if (options !== undefined) out.options = options;
  return out;
}

/**
 * The file name protoc gives `filename`: its path inside the first include folder holding it,
 * else relative to the working directory, else its base name.
 * @internal
 */
export function protoFileName(filename: string, includeDirs: readonly string[]): string {
  if (!isAbsolute(filename) && filename.startsWith('google/protobuf/')) return filename;
  const abs = resolvePath(filename);
  for (const dir of includeDirs) {
    const d = resolvePath(dir);
    if (abs.startsWith(d + sep)) return relative(d, abs).split(sep).join('/');
  }
  const rel = relative(process.cwd(), abs);
  return rel.startsWith('..') || isAbsolute(rel) ? (abs.split(sep).pop() ?? abs) : rel.split(sep).join('/');
}

/**
 * Builds the `FileDescriptorProto` of every file loaded into `root` (which must be loaded with
 * `keepCase`, so field names are as written).
 * @param root - a resolved root from `loadRoot`
 * @param includeDirs - the include folders it was loaded with
 * @returns each file's descriptor by file name, in load order
 * @internal
 */
export function buildFileDescriptors(root: protobuf.Root, includeDirs: readonly string[]): Map<string, FileDescriptorEntry> {
  const byFile = new Map<string, { types: protobuf.Type[]; enums: protobuf.Enum[]; services: protobuf.Service[]; extensions: protobuf.Field[] }>();
  const slot = (file: string): { types: protobuf.Type[]; enums: protobuf.Enum[]; services: protobuf.Service[]; extensions: protobuf.Field[] } => {
    let entry = byFile.get(file);
    if (entry === undefined) byFile.set(file, (entry = { types: [], enums: [], services: [], extensions: [] }));
    return entry;
  };
  const fileOf = (obj: protobuf.ReflectionObject): string | undefined => {
    if (obj.filename !== null && obj.filename !== undefined) return obj.filename;
    if (obj.parent?.fullName === '.google.protobuf') return `google/protobuf/${BUNDLED[obj.name] ?? 'descriptor'}.proto`;
    return undefined;
  };
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const child of ns.nestedArray) {
      const file = fileOf(child);
      if (child instanceof protobuf.Service) {
        if (file !== undefined) slot(file).services.push(child);
      } else if (child instanceof protobuf.Type) {
        if (file !== undefined) slot(file).types.push(child);
      } else if (child instanceof protobuf.Enum) {
        if (file !== undefined) slot(file).enums.push(child);
      } else if (child instanceof protobuf.Field) {
        if (file !== undefined && child.extend !== undefined) slot(file).extensions.push(child);
      } else if (child instanceof protobuf.Namespace) walk(child);
    }
  };
  walk(root);
  const out = new Map<string, FileDescriptorEntry>();
  for (const file of root.files) {
    const name = protoFileName(file, includeDirs);
    const bundled = !isAbsolute(file) && file.startsWith('google/protobuf/');
    let imports: string[] = [];
    let weak: string[] = [];
    let pkg = '';
    let syntax: string | undefined;
    let fileOptions: Record<string, unknown> | undefined;
    let source = '';
    const parts = byFile.get(file) ?? { types: [], enums: [], services: [], extensions: [] };
    if (bundled) {
      pkg = 'google.protobuf';
      syntax = 'proto3';
      fileOptions = bundledOptions(file);
      if (file === 'google/protobuf/api.proto') imports = ['google/protobuf/source_context.proto', 'google/protobuf/type.proto'];
      if (file === 'google/protobuf/type.proto') imports = ['google/protobuf/any.proto', 'google/protobuf/source_context.proto'];
      if (file === 'google/protobuf/descriptor.proto') syntax = undefined;
    } else {
      source = readFileSync(file, 'utf8');
      const parsed = protobuf.parse(source, new protobuf.Root(), { keepCase: true });
      imports = parsed.imports ?? [];
      weak = parsed.weakImports ?? [];
      pkg = parsed.package ?? '';
      syntax = /^\s*syntax\s*=\s*["']proto3["']/m.test(source) ? 'proto3' : undefined;
      // protobufjs puts options written after `package` on the package's namespace.
      const scope = pkg === '' ? undefined : parsed.root.lookup(pkg);
      fileOptions = optionsOf({ ...parsed.root.options, ...scope?.options }, descriptor.FileOptions);
    }
    const resolveImport = (target: string): string => {
      if (target.startsWith('google/protobuf/') || bundled) return protoFileName(target, includeDirs);
      return protoFileName(root.resolvePath(file, target) ?? target, includeDirs);
    };
    const dependencies = [...imports, ...weak].map(resolveImport);
    const proto2 = syntax === undefined;
    const object: Record<string, unknown> = {
      name,
      dependency: dependencies,
      messageType: parts.types.map((t) => messageProto(t, proto2)),
      enumType: parts.enums.map(enumProto),
      service: parts.services.map((service) => serviceProto(service, source)),
      extension: parts.extensions.map((f) => fieldProto(f, proto2)),
    };
    if (pkg !== '') object.package = pkg;
    if (weak.length > 0) object.weakDependency = weak.map((_, i) => imports.length + i);
    if (fileOptions !== undefined) object.options = fileOptions;
    if (syntax !== undefined) object.syntax = syntax;
    const bytes = descriptor.FileDescriptorProto.encode(descriptor.FileDescriptorProto.fromObject(object)).finish();
    out.set(name, { name, bytes, dependencies });
  }
  return out;
}

/**
 * The descriptors a service needs: `file`'s, then every file it imports, transitively, each once.
 * @internal
 */
export function withDependencies(files: ReadonlyMap<string, FileDescriptorEntry>, file: string): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const entry = files.get(name);
    if (entry === undefined) return;
    out.push(entry.bytes);
    for (const dep of entry.dependencies) visit(dep);
  };
  visit(file);
  return out;
}
