import { basename, dirname, isAbsolute, relative, resolve as resolvePath, sep } from 'node:path';
import protobuf from 'protobufjs';
import { buildFileDescriptors, type FileDescriptorEntry } from './descriptor.js';
import { ProtoLoadError, loadRoot } from './load.js';

/** Options of {@link generateTypeScript}. */
export interface GenerateOptions {
  /** Folders searched for the files and their imports, in order; output paths are relative to them. */
  readonly includeDirs?: readonly string[];
  /** Keep field names as written (`point_count`) instead of lowerCamelCase (`pointCount`). @defaultValue false */
  readonly keepCase?: boolean;
  /** The module generated code imports grpc-iter's types from. @defaultValue 'grpc-iter' */
  readonly importFrom?: string;
}

/** One generated TypeScript file. */
export interface GeneratedFile {
  /** Its path, relative to the output folder (`helloworld.ts`, `google/protobuf/timestamp.ts`). */
  readonly path: string;
  /** Its source text. */
  readonly content: string;
}

interface Scalar {
  readonly ts: string;
  readonly wire: number;
  readonly zero: string;
  readonly long?: 'signed' | 'unsigned';
}

const SCALARS: Record<string, Scalar> = {
  double: { ts: 'number', wire: 1, zero: '0' },
  float: { ts: 'number', wire: 5, zero: '0' },
  int32: { ts: 'number', wire: 0, zero: '0' },
  uint32: { ts: 'number', wire: 0, zero: '0' },
  sint32: { ts: 'number', wire: 0, zero: '0' },
  fixed32: { ts: 'number', wire: 5, zero: '0' },
  sfixed32: { ts: 'number', wire: 5, zero: '0' },
  int64: { ts: 'bigint', wire: 0, zero: '0n', long: 'signed' },
  uint64: { ts: 'bigint', wire: 0, zero: '0n', long: 'unsigned' },
  sint64: { ts: 'bigint', wire: 0, zero: '0n', long: 'signed' },
  fixed64: { ts: 'bigint', wire: 1, zero: '0n', long: 'unsigned' },
  sfixed64: { ts: 'bigint', wire: 1, zero: '0n', long: 'signed' },
  bool: { ts: 'boolean', wire: 0, zero: 'false' },
  string: { ts: 'string', wire: 2, zero: "''" },
  bytes: { ts: 'Uint8Array', wire: 2, zero: 'new Uint8Array(0)' },
};

// Where protobufjs's bundled well-known types come from (it gives them no file name).
const WELL_KNOWN_FILES: Record<string, string> = {
  Any: 'any',
  Api: 'api',
  Method: 'api',
  Mixin: 'api',
  Duration: 'duration',
  Empty: 'empty',
  FieldMask: 'field_mask',
  SourceContext: 'source_context',
  Struct: 'struct',
  Value: 'struct',
  NullValue: 'struct',
  ListValue: 'struct',
  Timestamp: 'timestamp',
  DoubleValue: 'wrappers',
  FloatValue: 'wrappers',
  Int64Value: 'wrappers',
  UInt64Value: 'wrappers',
  Int32Value: 'wrappers',
  UInt32Value: 'wrappers',
  BoolValue: 'wrappers',
  StringValue: 'wrappers',
  BytesValue: 'wrappers',
};

// Names generated code uses from the global scope; a proto type with one of these names gets a `_`.
const RESERVED = new Set(['Uint8Array', 'Object', 'Number', 'String', 'BigInt', 'Boolean', 'Error', 'Record', 'Promise', 'PromiseLike', 'Array', 'AsyncIterable', 'Iterable', 'Symbol']);

const MAX_DEPTH = 100;

type Definition = protobuf.Type | protobuf.Enum | protobuf.Service;

function topLevel(obj: protobuf.ReflectionObject): protobuf.ReflectionObject {
  let o = obj;
  while (o.parent instanceof protobuf.Type) o = o.parent;
  return o;
}

function localName(obj: protobuf.ReflectionObject): string {
  const parts = [obj.name];
  for (let p = obj.parent; p instanceof protobuf.Type; p = p.parent) parts.unshift(p.name);
  const name = parts.join('_');
  return RESERVED.has(name) ? `${name}_` : name;
}

const keyTypeOf = (field: protobuf.Field): string => (field as unknown as protobuf.MapField).keyType;

const fullNameOf = (obj: protobuf.ReflectionObject): string => obj.fullName.replace(/^\./, '');

function doc(comment: string | null | undefined, indent: string): string {
  if (comment === null || comment === undefined || comment.trim() === '') return '';
  const lines = comment.replace(/\*\//g, '*\\/').trim().split('\n');
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

/** Generates the TypeScript of one `.proto` file: what it needs of the others is imported. */
class FileWriter {
  readonly #imports = new Map<string, Map<string, string>>(); // module → local → alias
  #usesLong = false;
  #usesBig = false;

  constructor(
    readonly path: string,
    readonly source: string,
    readonly definitions: Definition[],
    readonly fileOf: (obj: protobuf.ReflectionObject) => string,
    readonly importFrom: string,
    readonly keepCase: boolean,
    readonly descriptors: { readonly own: Uint8Array; readonly imported: readonly string[]; readonly inline: readonly Uint8Array[] } | undefined,
  ) {}

  /** A field's property name; protobufjs's bundled well-known types keep snake_case unless camelCased here. */
  #name(field: protobuf.Field): string {
    if (this.keepCase || field.parent === null || topLevel(field.parent).filename !== null) return field.name;
    return protobuf.util.camelCase(field.name);
  }

  /** The name this file uses for a type, importing it when another file defines it. */
  ref(obj: protobuf.ReflectionObject): string {
    const file = this.fileOf(obj);
    if (file === this.path) return localName(obj);
    const alias = fullNameOf(obj).replace(/\./g, '_');
    let spec = relative(dirname(this.path), file).split(sep).join('/').replace(/\.ts$/, '.js');
    if (!spec.startsWith('.')) spec = `./${spec}`;
    let names = this.#imports.get(spec);
    if (names === undefined) this.#imports.set(spec, (names = new Map()));
    names.set(localName(obj), alias);
    return alias;
  }

  #scalarOf(field: protobuf.Field, type = field.type): Scalar | undefined {
    if (field.resolvedType instanceof protobuf.Enum && type === field.type) return { ts: this.ref(field.resolvedType), wire: 0, zero: '0' };
    return SCALARS[type];
  }

  #tsType(field: protobuf.Field): string {
    let t: string;
    if (field.resolvedType instanceof protobuf.Type) t = this.ref(field.resolvedType);
    else t = this.#scalarOf(field)!.ts;
    if (field.map) return `Record<string, ${t}>`;
    if (field.repeated) return `${t}[]`;
    return t;
  }

  #write(type: string, value: string): string {
    const s = SCALARS[type];
    if (s?.long !== undefined) {
      this.#usesLong = true;
      return `${type}($long(${value}))`;
    }
    return `${SCALARS[type] === undefined ? 'int32' : type}(${value})`;
  }

  #read(field: protobuf.Field, type = field.type): string {
    if (field.resolvedType instanceof protobuf.Enum && type === field.type) return `r.int32() as ${this.ref(field.resolvedType)}`;
    const s = SCALARS[type]!;
    if (s.long !== undefined) {
      this.#usesBig = true;
      return `$big(r.${type}(), ${s.long === 'unsigned'})`;
    }
    return `r.${type}()`;
  }

  #encodeField(field: protobuf.Field, out: string[]): void {
    const ref = `m.${this.#name(field)}`;
    const message = field.resolvedType instanceof protobuf.Type ? this.ref(field.resolvedType) : undefined;
    const scalar = message === undefined ? this.#scalarOf(field) : undefined;
    const wire = message !== undefined ? 2 : scalar!.wire;
    const tag = (id: number, w: number): number => ((id << 3) | w) >>> 0;
    if (field.map) {
      const keyScalar = SCALARS[keyTypeOf(field)]!;
      let key: string;
      if (keyTypeOf(field) === 'string') key = 'k';
      else if (keyTypeOf(field) === 'bool') key = "k === 'true'";
      else if (keyScalar.long !== undefined) key = 'BigInt(k)';
      else key = 'Number(k)';
      out.push(`    if (${ref} != null) {`);
      out.push(`      for (const [k, v] of Object.entries(${ref})) {`);
      const head = `w.uint32(${tag(field.id, 2)}).fork().uint32(${tag(1, keyScalar.wire)}).${this.#write(keyTypeOf(field), key)}`;
      if (message !== undefined) out.push(`        ${message}.encode(v, ${head}.uint32(18).fork(), depth + 1).ldelim().ldelim();`);
      else out.push(`        ${head}.uint32(${tag(2, wire)}).${this.#write(field.type, 'v')}.ldelim();`);
      out.push('      }', '    }');
    } else if (field.repeated) {
      out.push(`    if (${ref} != null && ${ref}.length) {`);
      if (message !== undefined) {
        out.push(`      for (const v of ${ref}) ${message}.encode(v, w.uint32(${tag(field.id, 2)}).fork(), depth + 1).ldelim();`);
      } else if (field.packed && wire !== 2) {
        out.push(`      w.uint32(${tag(field.id, 2)}).fork();`, `      for (const v of ${ref}) w.${this.#write(field.type, 'v')};`, '      w.ldelim();');
      } else {
        out.push(`      for (const v of ${ref}) w.uint32(${tag(field.id, wire)}).${this.#write(field.type, 'v')};`);
      }
      out.push('    }');
    } else if (message !== undefined) {
      out.push(`    if (${ref} != null) ${message}.encode(${ref}, w.uint32(${tag(field.id, 2)}).fork(), depth + 1).ldelim();`);
    } else {
      out.push(`    if (${ref} != null) w.uint32(${tag(field.id, wire)}).${this.#write(field.type, ref)};`);
    }
  }

  #decodeField(field: protobuf.Field, out: string[]): void {
    const ref = `m.${this.#name(field)}`;
    const message = field.resolvedType instanceof protobuf.Type ? this.ref(field.resolvedType) : undefined;
    const read = message !== undefined ? `${message}.decode(r, r.uint32(), depth + 1)` : this.#read(field);
    out.push(`        case ${field.id}: {`);
    if (field.map) {
      const keyZero = SCALARS[keyTypeOf(field)]!.zero;
      const valueZero = message !== undefined ? `${message}.decode(new Uint8Array(0))` : this.#scalarOf(field)!.zero;
      out.push(
        '          const e = r.uint32() + r.pos;',
        `          let k: ${SCALARS[keyTypeOf(field)]!.ts} = ${keyZero};`,
        `          let v: ${message ?? this.#scalarOf(field)!.ts} | undefined;`,
        '          while (r.pos < e) {',
        '            const t2 = r.uint32();',
        `            if (t2 >>> 3 === 1) k = ${this.#read(field, keyTypeOf(field))};`,
        `            else if (t2 >>> 3 === 2) v = ${read};`,
        '            else r.skipType(t2 & 7);',
        '          }',
        `          (${ref} ??= {})[String(k)] = v ?? ${valueZero};`,
      );
    } else if (field.repeated) {
      if (message === undefined && SCALARS[field.type]?.wire !== 2) {
        out.push(
          '          if ((t & 7) === 2) {',
          '            const e = r.uint32() + r.pos;',
          `            while (r.pos < e) (${ref} ??= []).push(${read});`,
          `          } else (${ref} ??= []).push(${read});`,
        );
      } else {
        out.push(`          (${ref} ??= []).push(${read});`);
      }
    } else {
      out.push(`          ${ref} = ${read};`);
      const oneof = field.partOf;
      if (oneof !== null && oneof !== undefined && oneof.fieldsArray.length > 1) {
        for (const other of oneof.fieldsArray) if (other !== field) out.push(`          delete m.${this.#name(other)};`);
      }
    }
    out.push('          break;', '        }');
  }

  #message(type: protobuf.Type, out: string[]): void {
    const name = localName(type);
    for (const field of type.fieldsArray) {
      if (field.delimited) throw new ProtoLoadError(`Cannot generate ${this.source}: field ${fullNameOf(type)}.${field.name} is a group, which is not supported`);
    }
    const fields = type.fieldsArray.slice().sort((a, b) => a.id - b.id);
    out.push(doc(type.comment, '') + `export interface ${name} {`);
    for (const field of fields) {
      const oneof = field.partOf !== null && field.partOf !== undefined && !field.partOf.name.startsWith('_') ? ` (one of \`${field.partOf.name}\`)` : '';
      const comment = [field.comment?.trim(), oneof === '' ? '' : `Part of oneof${oneof}.`].filter((c) => c !== undefined && c !== '').join('\n');
      out.push(doc(comment, '  ') + `  ${this.#name(field)}?: ${this.#tsType(field)} | undefined;`);
    }
    out.push('}', '');
    const defaults: string[] = [];
    for (const field of fields) {
      if (field.map) defaults.push(`${this.#name(field)}: {}`);
      else if (field.repeated) defaults.push(`${this.#name(field)}: []`);
      else if (!(field.resolvedType instanceof protobuf.Type) && !field.hasPresence) defaults.push(`${this.#name(field)}: ${this.#scalarOf(field)!.zero}`);
    }
    const encode: string[] = [];
    for (const field of fields) this.#encodeField(field, encode);
    const decode: string[] = [];
    for (const field of fields) this.#decodeField(field, decode);
    const used = fields.length > 0;
    out.push(
      `/** Encoding and decoding of \`${fullNameOf(type)}\`. */`,
      `export const ${name} = {`,
      `  /** The message's full name. */`,
      `  fullName: '${fullNameOf(type)}' as const,`,
      `  /** Writes \`${used ? 'm' : '_m'}\` to \`w\` (a new writer when omitted); \`.finish()\` gives the bytes. */`,
      `  encode(${used ? 'm' : '_m'}: ${name}, w: $protobuf.Writer = $protobuf.Writer.create(), depth = 0): $protobuf.Writer {`,
      `    if (depth > ${MAX_DEPTH}) throw new Error('Cannot encode ${fullNameOf(type)}: nested more than ${MAX_DEPTH} deep');`,
      ...encode,
      '    return w;',
      '  },',
      `  /** Reads a \`${fullNameOf(type)}\` from bytes, or \`length\` bytes of a reader. Unset fields without presence get their defaults. */`,
      `  decode(input: Uint8Array | $protobuf.Reader, length?: number, depth = 0): ${name} {`,
      `    if (depth > ${MAX_DEPTH}) throw new Error('Cannot decode ${fullNameOf(type)}: nested more than ${MAX_DEPTH} deep');`,
      '    const r = input instanceof $protobuf.Reader ? input : $protobuf.Reader.create(input);',
      '    const end = length === undefined ? r.len : r.pos + length;',
      `    const m: ${name} = {${defaults.length > 0 ? ` ${defaults.join(', ')} ` : ''}};`,
      '    while (r.pos < end) {',
      '      const t = r.uint32();',
      ...(decode.length > 0 ? ['      switch (t >>> 3) {', ...decode, '        default:', '          r.skipType(t & 7);', '      }'] : ['      r.skipType(t & 7);']),
      '    }',
      '    return m;',
      '  },',
      '};',
      '',
    );
  }

  #enum(e: protobuf.Enum, out: string[]): void {
    const name = localName(e);
    out.push(doc(e.comment, '') + `export const ${name} = {`);
    for (const [key, value] of Object.entries(e.values)) out.push(doc(e.comments[key], '  ') + `  ${key}: ${value},`);
    out.push('} as const;', `/** The values of \`${fullNameOf(e)}\`. Decoding keeps numbers this version does not know. */`, `export type ${name} = (typeof ${name})[keyof typeof ${name}];`, '');
  }

  #service(service: protobuf.Service, out: string[], grpc: Set<string>): void {
    const name = localName(service);
    const full = fullNameOf(service);
    const methods = service.methodsArray.map((m) => {
      m.resolve();
      const lower = m.name.charAt(0).toLowerCase() + m.name.slice(1);
      const kind = m.requestStream === true ? (m.responseStream === true ? 'StreamStream' : 'StreamUnary') : m.responseStream === true ? 'UnaryStream' : 'UnaryUnary';
      return { method: m, lower, kind, req: this.ref(m.resolvedRequestType!), res: this.ref(m.resolvedResponseType!) };
    });
    out.push(doc(service.comment, '') + `export const ${name} = {`);
    for (const { method, lower, req, res } of methods) {
      out.push(
        doc(method.comment, '  ') + `  ${method.name}: {`,
        `    path: '/${full}/${method.name}',`,
        `    requestStream: ${method.requestStream === true},`,
        `    responseStream: ${method.responseStream === true},`,
        `    requestSerialize: (value: ${req}): Uint8Array => ${req}.encode(value).finish(),`,
        `    requestDeserialize: (bytes: Uint8Array): ${req} => ${req}.decode(bytes),`,
        `    responseSerialize: (value: ${res}): Uint8Array => ${res}.encode(value).finish(),`,
        `    responseDeserialize: (bytes: Uint8Array): ${res} => ${res}.decode(bytes),`,
        `    originalName: '${lower}',`,
        '  },',
      );
    }
    out.push('} as const;');
    // Server reflection finds the descriptors here (FILE_DESCRIPTORS in proto/descriptor.ts);
    // non-enumerable, so the definition's methods are all a spread or Object.entries sees.
    if (this.descriptors !== undefined) out.push(`Object.defineProperty(${name}, Symbol.for('grpc-iter.fileDescriptorProtos'), { value: $fileDescriptors });`);
    out.push('');
    out.push(`/** An implementation of \`${full}\` for \`server.addService(${name}, implementation)\`: one behavior per method. */`, `export interface ${name}Server {`);
    for (const { method, lower, kind, req, res } of methods) {
      grpc.add(`${kind}Behavior`);
      out.push(doc(method.comment, '  ') + `  ${lower}: ${kind}Behavior<${req}, ${res}>;`);
    }
    out.push('}', '');
    out.push(`/** A client of \`${full}\`, as \`createClient(${name}, channel)\` makes it. */`, `export interface ${name}Client {`);
    for (const { method, lower, kind, req, res } of methods) {
      grpc.add(`${kind}MultiCallable`);
      out.push(doc(method.comment, '  ') + `  readonly ${lower}: ${kind}MultiCallable<${req}, ${res}>;`);
    }
    out.push('}', '');
  }

  render(): string {
    const body: string[] = [];
    const grpc = new Set<string>();
    const names = new Map<string, string>();
    const claim = (name: string, what: string): void => {
      const previous = names.get(name);
      if (previous !== undefined) throw new ProtoLoadError(`Cannot generate ${this.source}: ${what} and ${previous} would both be named ${name}`);
      names.set(name, what);
    };
    for (const d of this.definitions) {
      const what = fullNameOf(d);
      claim(localName(d), what);
      if (d instanceof protobuf.Service) {
        claim(`${localName(d)}Server`, `${what}'s server interface`);
        claim(`${localName(d)}Client`, `${what}'s client interface`);
      }
    }
    for (const d of this.definitions) {
      if (d instanceof protobuf.Enum) this.#enum(d, body);
      else if (d instanceof protobuf.Type) this.#message(d, body);
      else this.#service(d, body, grpc);
    }
    const head = [`// Generated by \`grpc-iter gen\` from ${this.source}. Do not edit: change the .proto file and generate again.`];
    const usesProtobuf = this.definitions.some((d) => d instanceof protobuf.Type);
    if (usesProtobuf) head.push("import $protobuf from 'protobufjs/minimal.js';");
    if (grpc.size > 0) head.push(`import type { ${[...grpc].sort().join(', ')} } from '${this.importFrom}';`);
    const descriptorLines: string[] = [];
    if (this.descriptors !== undefined) {
      const { own, imported, inline } = this.descriptors;
      const deps = imported.map((file, i) => {
        let spec = relative(dirname(this.path), file).split(sep).join('/').replace(/\.ts$/, '.js');
        if (!spec.startsWith('.')) spec = `./${spec}`;
        let names = this.#imports.get(spec);
        if (names === undefined) this.#imports.set(spec, (names = new Map()));
        names.set('$fileDescriptors', `$deps${i}`);
        return `...$deps${i}`;
      });
      const bytes = (b: Uint8Array): string => `$bytes('${Buffer.from(b).toString('base64')}')`;
      descriptorLines.push(
        'const $bytes = (base64: string): Uint8Array => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));',
        '',
        `/** The serialized \`FileDescriptorProto\`s of ${this.source} and of every file it imports, for server reflection. */`,
        `export const $fileDescriptors: readonly Uint8Array[] = [...new Set([${[bytes(own), ...inline.map(bytes), ...deps].join(', ')}])];`,
        '',
      );
    }
    for (const [spec, locals] of [...this.#imports].sort(([a], [b]) => a.localeCompare(b))) {
      head.push(`import { ${[...locals].map(([local, alias]) => (local === alias ? local : `${local} as ${alias}`)).join(', ')} } from '${spec}';`);
    }
    head.push('', ...descriptorLines);
    if (this.#usesLong) head.push('// A 64-bit value as the low and high halves protobufjs writes.', 'const $long = (v: bigint): number => ({ low: Number(BigInt.asIntN(32, v)), high: Number(BigInt.asIntN(32, v >> 32n)) }) as unknown as number;', '');
    if (this.#usesBig) {
      head.push(
        '// A 64-bit value protobufjs read (a Long, or a number without the long package) as a bigint.',
        'const $big = (v: { low: number; high: number } | number, unsigned: boolean): bigint => {',
        "  const b = typeof v === 'number' ? BigInt(v) : (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);",
        '  return unsigned ? BigInt.asUintN(64, b) : BigInt.asIntN(64, b);',
        '};',
        '',
      );
    }
    return `${head.join('\n')}\n${body.join('\n')}`;
  }
}

/**
 * Generates TypeScript for `.proto` files (what `grpc-iter gen` writes): for each file, message
 * interfaces with `encode`/`decode` on protobufjs's minimal runtime (no `.proto` parsing at run
 * time), enums as `const` objects with a union type, and for each service a definition with
 * literal streaming flags (so `createClient` and `server.addService` are typed by RPC kind), a
 * `<Service>Server` interface and a `<Service>Client` interface. 64-bit integers are `bigint`,
 * `bytes` are `Uint8Array`, maps are records keyed by the key's string form. Imported files
 * (well-known types included) are generated too. Each file embeds its serialized
 * `FileDescriptorProto` (as protoc writes it) and exports, as `$fileDescriptors`, its own and its
 * imports'; each service definition carries them, so `addService` of it is reflectable.
 *
 * @param files - the `.proto` files
 * @param options - include folders, field-name case, the module to import grpc-iter's types from
 * @returns the files to write, with paths relative to the output folder
 * @throws ProtoLoadError naming the file and line for input it cannot use
 *
 * @example
 * ```ts
 * for (const file of generateTypeScript(['helloworld.proto'], { includeDirs: ['protos'] })) {
 *   writeFileSync(join('src/generated', file.path), file.content);
 * }
 * ```
 */
export function generateTypeScript(files: string | readonly string[], options: GenerateOptions = {}): GeneratedFile[] {
  const includeDirs = (options.includeDirs ?? []).map((d) => resolvePath(d));
  const root = loadRoot(files, { includeDirs, keepCase: options.keepCase ?? false, comments: true });
  const outputPath = (filename: string): string => {
    const abs = resolvePath(filename);
    for (const dir of includeDirs) if (abs.startsWith(dir + sep)) return relative(dir, abs).split(sep).join('/').replace(/\.proto$/, '.ts');
    const rel = relative(process.cwd(), abs);
    return (rel.startsWith('..') || isAbsolute(rel) ? basename(abs) : rel.split(sep).join('/')).replace(/\.proto$/, '.ts');
  };
  const fileOf = (obj: protobuf.ReflectionObject): string => {
    const top = topLevel(obj);
    if (top.filename !== null && top.filename !== undefined) return outputPath(top.filename);
    const pkg = fullNameOf(top.parent!).replace(/\./g, '/');
    const known = pkg === 'google/protobuf' ? WELL_KNOWN_FILES[top.name] : undefined;
    return `${pkg === '' ? '' : `${pkg}/`}${known ?? 'well_known'}.ts`;
  };
  const byFile = new Map<string, { definitions: Definition[] }>();
  const collect = (ns: protobuf.NamespaceBase): void => {
    for (const child of ns.nestedArray) {
      if (child instanceof protobuf.Type || child instanceof protobuf.Enum || child instanceof protobuf.Service) {
        const path = fileOf(child);
        let entry = byFile.get(path);
        if (entry === undefined) byFile.set(path, (entry = { definitions: [] }));
        entry.definitions.push(child);
      }
      if (child instanceof protobuf.Namespace && !(child instanceof protobuf.Service)) collect(child);
    }
  };
  collect(root);
  // Descriptors keep field names as written, so a lowerCamelCase root is loaded again as written.
  const descriptorRoot = options.keepCase === true ? root : loadRoot(files, { includeDirs, keepCase: true });
  const descriptors = buildFileDescriptors(descriptorRoot, includeDirs);
  // A file's imports: those generated are imported from their module, the rest (files that
  // define nothing, so no module is written for them) are embedded with their own imports.
  const descriptorsOf = (path: string): { own: Uint8Array; imported: string[]; inline: Uint8Array[] } | undefined => {
    const entry = descriptors.get(path.replace(/\.ts$/, '.proto'));
    if (entry === undefined) return undefined;
    const imported: string[] = [];
    const inline: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (dep: FileDescriptorEntry): void => {
      for (const name of dep.dependencies) {
        if (seen.has(name)) continue;
        seen.add(name);
        const ts = name.replace(/\.proto$/, '.ts');
        const next = descriptors.get(name);
        if (byFile.has(ts)) imported.push(ts);
        else if (next !== undefined) {
          inline.push(next.bytes);
          visit(next);
        }
      }
    };
    visit(entry);
    return { own: entry.bytes, imported, inline };
  };
  const out: GeneratedFile[] = [];
  for (const [path, { definitions }] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
    const writer = new FileWriter(path, path.replace(/\.ts$/, '.proto'), definitions, fileOf, options.importFrom ?? 'grpc-iter', options.keepCase ?? false, descriptorsOf(path));
    out.push({ path, content: writer.render() });
  }
  return out;
}
