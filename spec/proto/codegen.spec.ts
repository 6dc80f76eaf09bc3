// `grpc-iter gen`: the generated code compiles under the strict tsconfig, round-trips every
// field kind, writes the same bytes as protobufjs's reflection (what @grpc/proto-loader and
// grpc-js peers use), serves and calls @grpc/grpc-js, and bad input gets a clear error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createClient, insecureChannel, server, type Server } from '../../lib/index.js';
import { loadProto, type MessageType } from '../../lib/proto/index.js';
import { generateTypeScript } from '../../lib/proto/codegen.js';

const GEN = resolve('spec/.generated');
const FIXTURES = resolve('spec/proto/fixtures');

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { timeout: 120_000 }, (err, stdout, stderr) => done({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }));
  });
}

const gen = (...args: string[]): ReturnType<typeof run> => run(process.execPath, ['dist/cli.js', 'gen', ...args]);

// The generated modules, loaded after generation.
type Gen = Record<string, { encode(m: unknown): { finish(): Uint8Array }; decode(b: Uint8Array): Record<string, unknown> } & Record<string, unknown>>;
let kitchen: Gen;
let legacy: Gen;
let common: Gen;

before(async () => {
  rmSync(GEN, { recursive: true, force: true });
  mkdirSync(GEN, { recursive: true });
  const results = await Promise.all([
    gen('-I', FIXTURES, 'sink/kitchen.proto', 'sink/legacy.proto', '--out', join(GEN, 'fixtures')),
    gen('-I', 'examples/helloworld', 'helloworld.proto', '--out', join(GEN, 'helloworld')),
    gen('-I', 'examples/route_guide', 'route_guide.proto', '--out', join(GEN, 'route_guide')),
    gen('-I', 'examples/interop/protos', 'grpc/testing/test.proto', '--out', join(GEN, 'interop')),
  ]);
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  kitchen = (await import(pathToFileURL(join(GEN, 'fixtures/sink/kitchen.ts')).href)) as Gen;
  legacy = (await import(pathToFileURL(join(GEN, 'fixtures/sink/legacy.ts')).href)) as Gen;
  common = (await import(pathToFileURL(join(GEN, 'fixtures/sink/common.ts')).href)) as Gen;
});

// Every field set, in the shape decode produces (nested messages with their defaults).
function fullKitchen(): Record<string, unknown> {
  const inner = (id: number, children: unknown[] = []): Record<string, unknown> => ({ id, children });
  return {
    fDouble: 1.25,
    fFloat: -2.5,
    fInt32: -7,
    fInt64: -9007199254740993n,
    fUint32: 4294967295,
    fUint64: 18446744073709551615n,
    fSint32: -123456,
    fSint64: -9223372036854775808n,
    fFixed32: 4000000000,
    fFixed64: 9223372036854775809n,
    fSfixed32: -2000000000,
    fSfixed64: -1n,
    fBool: true,
    fString: 'héllo ☺ 😈',
    fBytes: Buffer.from([0, 1, 2, 255]),
    color: 2,
    inner: inner(1, [inner(2, [inner(3)])]),
    tag: { key: 'k', level: 2 },
    level: 1,
    rInt32: [1, -1, 2147483647],
    rInt64: [0n, -5n, 1n << 62n],
    rDouble: [0.5, -0, Infinity],
    rString: ['a', '', 'c'],
    rBytes: [Buffer.from([1]), Buffer.alloc(0)],
    rColor: [1, 2, 0],
    rInner: [inner(4), inner(5)],
    rSint64: [-1n, 1n],
    rFixed32: [1, 2],
    mString: { a: 'x', b: '' },
    mInner: { '1': inner(6), '-2': inner(7) },
    mInt64: { '-9007199254740993': Buffer.from([9]) },
    mColor: { '7': 2 },
    mBool: {},
    cNumber: 42n,
    maybe: 0,
    at: { seconds: 1700000000n, nanos: 5 },
    took: { seconds: -1n, nanos: -500 },
    any: { typeUrl: 'type.googleapis.com/sink.common.Tag', value: Buffer.from([10, 1, 120]) },
    meta: { fields: { n: { numberValue: 1 }, l: { listValue: { values: [{ stringValue: 'x' }, { nullValue: 0 }, { boolValue: false }] } } } },
    value: { structValue: { fields: {} } },
    wrappedInt64: { value: 5n },
    wrappedString: { value: 'w' },
    wrappedBytes: { value: Buffer.from([7]) },
    mask: { paths: ['a.b', 'c'] },
    nothing: {},
    list: { values: [] },
  };
}

// protobufjs reflection (fromObject) takes 64-bit integers as strings, not bigints, and its
// bundled google.protobuf.Any keeps the snake_case `type_url`.
function forReflection(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(forReflection);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k === 'typeUrl' ? 'type_url' : k, forReflection(v)]));
  return value;
}

// protobufjs's own decoder turns int64 map keys into 8-byte hashes, so a message echoed by a
// protobufjs-based peer (grpc-js with proto-loader) cannot carry one; the rest goes both ways.
function withoutInt64Keys(value: Record<string, unknown>): Record<string, unknown> {
  return { ...value, mInt64: {} };
}

describe('grpc-iter gen', () => {
  it('compiles under the strict tsconfig, with typed server and client interfaces, for the fixtures and every example', async () => {
    writeFileSync(
      join(GEN, 'usage.ts'),
      `import { createClient, insecureChannel, server } from 'grpc-iter';
import { Kitchen, Sink, type SinkClient, type SinkServer } from './fixtures/sink/kitchen.js';
import { RouteGuide, type RouteGuideServer } from './route_guide/route_guide.js';
import { Greeter } from './helloworld/helloworld.js';
import { TestService } from './interop/grpc/testing/test.js';

const impl: SinkServer = {
  echo: (k) => k,
  async *repeat(k) { yield k; },
  async last(ks) { let last: Kitchen = {}; for await (const k of ks) last = k; return last; },
  async *mirror(ks) { yield* ks; },
};
server().addService(Sink, impl);
const channel = insecureChannel('localhost:1');
const client: SinkClient = createClient(Sink, channel);
const echoed: Promise<Kitchen> = client.echo({ fInt64: 1n, color: Kitchen_Color.RED });
void echoed;
// @ts-expect-error 64-bit integers are bigints
void client.echo({ fInt64: 'x' });
// @ts-expect-error server streaming returns an iterable, not a Promise
const wrong: Promise<Kitchen> = client.repeat({});
void wrong;
const greeter = createClient(Greeter, channel);
void greeter.sayHello({ name: 'x' }).then((r) => r.message?.toUpperCase());
const partial: Partial<RouteGuideServer> = { getFeature: (p) => ({ name: '', location: p }) };
void partial;
void createClient(RouteGuide, channel).listFeatures({});
void createClient(TestService, channel).emptyCall({});
import { Kitchen_Color } from './fixtures/sink/kitchen.js';
`,
    );
    writeFileSync(join(GEN, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { rootDir: '.', noEmit: true }, include: ['./**/*.ts'] }));
    const r = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', join(GEN, 'tsconfig.json')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('writes one file per .proto, well-known types and imports included, each saying where it came from', () => {
    for (const f of ['fixtures/sink/kitchen.ts', 'fixtures/sink/common.ts', 'fixtures/sink/legacy.ts', 'fixtures/google/protobuf/timestamp.ts', 'fixtures/google/protobuf/struct.ts', 'fixtures/google/protobuf/wrappers.ts', 'interop/grpc/testing/messages.ts']) {
      assert.ok(existsSync(join(GEN, f)), f);
    }
    const text = readFileSync(join(GEN, 'fixtures/sink/kitchen.ts'), 'utf8');
    assert.match(text, /^\/\/ Generated by `grpc-iter gen` from sink\/kitchen\.proto\./);
    assert.match(text, /import \{ Tag as sink_common_Tag, Level as sink_common_Level, \$fileDescriptors as \$deps\d+ \} from '\.\/common\.js';/);
    assert.doesNotMatch(text, /\.proto['"]|parse\(|loadSync/, 'no .proto parsing at run time');
    assert.match(text, /requestStream: true,\n\s+responseStream: true,/);
  });

  it('round-trips every scalar, repeated, map, oneof, nested, enum, bytes, 64-bit and well-known field', () => {
    const value = fullKitchen();
    const decoded = kitchen.Kitchen!.decode(kitchen.Kitchen!.encode(value).finish());
    assert.deepStrictEqual(decoded, value);
  });

  it('writes the bytes protobufjs reflection writes, and decodes them back', () => {
    const reflection = loadProto('sink/kitchen.proto', { includeDirs: [FIXTURES] }) as unknown as { sink: { Kitchen: MessageType } };
    const value = fullKitchen();
    const ours = Buffer.from(kitchen.Kitchen!.encode(value).finish());
    const theirs = Buffer.from(reflection.sink.Kitchen.encode(forReflection(value) as Record<string, unknown>));
    assert.equal(ours.toString('hex'), theirs.toString('hex'));
    assert.deepStrictEqual(kitchen.Kitchen!.decode(theirs), value);
    // Unset fields are not written; decoding fills proto3 defaults and leaves presence fields unset.
    assert.equal(kitchen.Kitchen!.encode({}).finish().length, 0);
    const empty = kitchen.Kitchen!.decode(new Uint8Array(0));
    assert.equal(empty.fInt64, 0n);
    assert.equal(empty.fString, '');
    assert.deepStrictEqual(empty.rInner, []);
    assert.deepStrictEqual(empty.mString, {});
    assert.equal('maybe' in empty, false);
    assert.equal('inner' in empty, false);
  });

  it('keeps the last oneof member and map entries keyed by their string form, bool keys included', () => {
    const K = kitchen.Kitchen!;
    const both = Buffer.concat([K.encode({ cText: 'first' }).finish(), K.encode({ cNumber: 5n }).finish()]);
    const decoded = K.decode(both);
    assert.equal(decoded.cNumber, 5n);
    assert.equal('cText' in decoded, false);
    assert.deepStrictEqual(K.decode(K.encode({ mBool: { true: 'yes', false: 'no' } }).finish()).mBool, { true: 'yes', false: 'no' });
  });

  it('proto2: required and optional fields keep presence, repeated numbers are unpacked unless asked', () => {
    const reflection = loadProto('sink/legacy.proto', { includeDirs: [FIXTURES] }) as unknown as { sink: { legacy: { Old: MessageType } } };
    const value = { id: 0, values: [1, 2], packedValues: [3, 4], big: -3n };
    const ours = Buffer.from(legacy.Old!.encode(value).finish());
    assert.equal(ours.toString('hex'), Buffer.from(reflection.sink.legacy.Old.encode(forReflection(value) as Record<string, unknown>)).toString('hex'));
    assert.equal(ours.toString('hex'), '0800180118022202030428fdffffffffffffffff01');
    const decoded = legacy.Old!.decode(ours);
    assert.deepStrictEqual(decoded, { values: [1, 2], packedValues: [3, 4], id: 0, big: -3n });
    assert.equal('name' in decoded, false);
  });

  it('refuses input nested past the depth limit instead of overflowing the stack', () => {
    let bytes: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 150; i++) bytes = Buffer.concat([Buffer.from([0x12, ...varint(bytes.length)]), bytes]);
    assert.throws(() => common.Tag && kitchen.Kitchen_Inner!.decode(bytes), /nested more than 100 deep/);
  });

  describe('with @grpc/grpc-js peers', () => {
    let ours: Server;
    let ourPort: number;
    let theirs: grpc.Server;
    let theirPort: number;
    const packageDefinition = (): grpc.GrpcObject =>
      grpc.loadPackageDefinition(protoLoader.loadSync('sink/kitchen.proto', { includeDirs: [FIXTURES], longs: String })) as grpc.GrpcObject;

    before(async () => {
      ours = server();
      const Sink = kitchen.Sink as never;
      ours.addService(Sink, {
        echo: (k: unknown) => k,
        async *repeat(k: { fInt32?: number }) {
          for (let i = 0; i < (k.fInt32 ?? 0); i++) yield k;
        },
      });
      ourPort = await ours.addInsecurePort('127.0.0.1:0');
      await ours.start();
      theirs = new grpc.Server();
      const service = ((packageDefinition().sink as grpc.GrpcObject).Sink as grpc.ServiceClientConstructor).service;
      theirs.addService(service, { echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, call.request) });
      theirPort = await new Promise<number>((ok, ko) => theirs.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? ko(e) : ok(p))));
    });
    after(async () => {
      await ours.stop(null);
      await new Promise<void>((ok) => theirs.tryShutdown(() => ok()));
    });

    it('a grpc-js client calls a server built on the generated definitions, both directions of every field intact', async () => {
      const Client = (packageDefinition().sink as grpc.GrpcObject).Sink as grpc.ServiceClientConstructor;
      const client = new Client(`127.0.0.1:${ourPort}`, grpc.credentials.createInsecure());
      try {
        const sent = forReflection(fullKitchen());
        const got = await new Promise<Record<string, unknown>>((ok, ko) => client.echo!(sent, (e: Error | null, r: Record<string, unknown>) => (e ? ko(e) : ok(r))));
        // proto-loader shows 64-bit integers as strings; the generated side had them as bigints.
        assert.equal(got.fInt64, '-9007199254740993');
        assert.equal(got.fUint64, '18446744073709551615');
        assert.equal(got.cNumber, '42');
        assert.equal(got.fString, 'héllo ☺ 😈');
        assert.deepStrictEqual(got.fBytes, Buffer.from([0, 1, 2, 255]));
        assert.equal((got.inner as { children: Array<{ children: Array<{ id: number }> }> }).children[0]!.children[0]!.id, 3);
        assert.equal((got.meta as { fields: Record<string, { numberValue?: number }> }).fields.n!.numberValue, 1);
        assert.deepStrictEqual(got.mString, { a: 'x', b: '' });
        assert.equal((got.any as { type_url: string }).type_url, 'type.googleapis.com/sink.common.Tag');
      } finally {
        client.close();
      }
    });

    it('the grpc-iter client with the generated definitions calls a grpc-js server and reads back every field', async () => {
      const channel = insecureChannel(`127.0.0.1:${theirPort}`);
      try {
        const client = createClient(kitchen.Sink as never, channel) as unknown as { echo(k: unknown): Promise<unknown> };
        assert.deepStrictEqual(await client.echo(withoutInt64Keys(fullKitchen())), withoutInt64Keys(fullKitchen()));
      } finally {
        channel.close();
      }
    });
  });

  describe('bad input', () => {
    it('a syntax error names the file and line, exit status 1', async () => {
      const dir = join(GEN, 'bad');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'broken.proto'), 'syntax = "proto3";\npackage p;\nmessage M {\n  int32 x = ;\n}\n');
      const r = await gen('-I', dir, 'broken.proto', '--out', join(dir, 'out'));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /grpc-iter gen: Cannot load "broken\.proto": .*broken\.proto.*line 4/);
      assert.equal(existsSync(join(dir, 'out')), false, 'nothing written');
    });

    it('a missing file or an unknown type is named; groups are refused', async () => {
      const missing = await gen('nope.proto', '--out', join(GEN, 'bad', 'out'));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /Cannot load "nope\.proto": file not found/);
      const dir = join(GEN, 'bad');
      writeFileSync(join(dir, 'unknown.proto'), 'syntax = "proto3";\nmessage M {\n  Missing x = 1;\n}\n');
      const unknown = await gen('-I', dir, 'unknown.proto', '--out', join(dir, 'out'));
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /Missing/);
      writeFileSync(join(dir, 'group.proto'), 'syntax = "proto2";\nmessage M {\n  optional group G = 1 { optional int32 a = 2; }\n}\n');
      assert.throws(() => generateTypeScript('group.proto', { includeDirs: [dir] }), /field M\.g is a group, which is not supported|is a group/);
    });

    it('usage errors exit 2 and print the usage', async () => {
      for (const args of [[], ['x.proto'], ['--out', 'o']]) {
        const r = await run(process.execPath, ['dist/cli.js', ...(args.length === 0 ? [] : ['gen', ...args])]);
        assert.equal(r.code, 2, args.join(' '));
        assert.match(r.stderr, /usage: grpc-iter gen/);
      }
    });
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
