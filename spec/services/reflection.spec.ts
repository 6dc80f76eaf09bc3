import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { server, unaryUnaryRpcMethodHandler, type Server, type ServiceDefinition } from '../../lib/index.js';
import { fileDescriptorsOf, loadProto } from '../../lib/proto/index.js';
import { buildFileDescriptors } from '../../lib/proto/descriptor.js';
import { loadRoot } from '../../lib/proto/load.js';
import { HEALTH_DESCRIPTOR, HealthServicer, ServingStatus, addHealthServicer } from '../../lib/services/health/index.js';
import { addReflection } from '../../lib/services/reflection/index.js';
import { Greeter } from '../../examples/proto/generated/greeter.js';
import { startInteropServer } from '../../examples/interop/server.js';
import { startServer as startRouteGuide } from '../../examples/route_guide/server.js';
import { REFLECTION_V1ALPHA_DESCRIPTOR, REFLECTION_V1_DESCRIPTOR } from '../../lib/services/reflection/descriptors.js';

// Server reflection checked by a client we did not write: spec/services/reflection_client.py,
// on Google's grpcio and protobuf, replays grpcurl's sequence and then calls methods with message
// classes built from the descriptors it was served. Reference descriptors come from protoc.

const run = promisify(execFile);
const INTEROP = resolve('examples/interop/protos');
const FIXTURES = resolve('spec/services/fixtures/reflection');
const ROUTE_GUIDE = resolve('examples/route_guide');
const REFLECTION_PROTOS = resolve('lib/services/reflection/proto');
const HEALTH_PROTOS = resolve('lib/services/health/proto');
const CLIENT = resolve('spec/services/reflection_client.py');

interface Report {
  services: string[];
  files: string[];
  errors: Record<string, [number, string]>;
  extensions: Record<string, number[]>;
  described: Record<string, string[]>;
  calls: Array<{ method: string; response: Record<string, unknown>; equal: boolean; extensions?: Record<string, unknown> }>;
  after_errors: string[];
  sequence: string[];
}

const NOT_FOUND = 5;
const tmp = mkdtempSync(join(tmpdir(), 'reflection-'));
const reflectionSet = join(tmp, 'reflection.pb');
const calls = join(tmp, 'calls.json');

/** protoc's FileDescriptorSet of `files` (with their imports), file by file. */
function protocFiles(includeDir: string, files: string[]): Map<string, Buffer> {
  const out = join(tmp, `set-${Math.random().toString(36).slice(2)}.pb`);
  execFileSync('protoc', [`-I${includeDir}`, '--include_imports', `--descriptor_set_out=${out}`, ...files], { cwd: includeDir });
  // FileDescriptorSet { repeated FileDescriptorProto file = 1; }, split here by hand; each
  // file's name is its field 1.
  const set = readFileSync(out);
  const byName = new Map<string, Buffer>();
  let i = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = set[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (i < set.length) {
    varint(); // tag 0x0a
    const length = varint();
    const file = set.subarray(i, i + length);
    i += length;
    let j = 1;
    let nameLength = 0;
    for (let shift = 0; ; shift += 7) {
      const b = file[j++]!;
      nameLength += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    byName.set(file.subarray(j, j + nameLength).toString('utf8'), file);
  }
  return byName;
}

async function reflect(address: string, version: 'v1' | 'v1alpha', callsFile: string | null = calls): Promise<Report> {
  const { stdout } = await run('/usr/bin/python3', [CLIENT, address, reflectionSet, version, ...(callsFile === null ? [] : [callsFile])], { timeout: 60_000 });
  return JSON.parse(stdout) as Report;
}

const STAMP = {
  at: '2023-11-14T22:13:20.000000005Z',
  ttl: '3.500s',
  meta: { a: 'b', n: 1, list: [true, null] },
  extra: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' },
  base: { id: 7 },
  counts: { x: 1, y: 2 },
  label: 'hello',
};

describe('server reflection (grpc.reflection.v1 and v1alpha)', () => {
  let srv: Server;
  let address = '';
  let v1: Report;
  let v1alpha: Report;

  before(async () => {
    execFileSync('protoc', [`-I${REFLECTION_PROTOS}`, `--descriptor_set_out=${reflectionSet}`, 'grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto']);
    writeFileSync(
      calls,
      JSON.stringify([
        { method: '/grpc.testing.TestService/EmptyCall', request: {} },
        { method: '/greeter.v1.Greeter/SayHello', request: { name: 'reflection' } },
        { method: '/Stamper/Echo', request: STAMP, extension_field: 'base', extensions: { 'shapes.note': 'an extension' } },
        { method: '/grpc.health.v1.Health/Check', request: {} },
        { method: '/grpc.health.v1.Health/Check', request: { service: 'greeter.v1.Greeter' } },
      ]),
    );
    const interop = loadProto('grpc/testing/test.proto', { includeDirs: [INTEROP] }) as unknown as { grpc: { testing: { TestService: ServiceDefinition } } };
    const stamps = loadProto('wkt.proto', { includeDirs: [FIXTURES] }) as unknown as { Stamper: ServiceDefinition };
    const routes = loadProto('route_guide.proto', { includeDirs: [ROUTE_GUIDE] }) as unknown as { routeguide: { RouteGuide: ServiceDefinition } };
    srv = server();
    srv.addService(interop.grpc.testing.TestService, { emptyCall: () => ({}) });
    srv.addService(stamps.Stamper, { echo: (stamp: unknown) => stamp });
    srv.addService(routes.routeguide.RouteGuide, {});
    // Generated code carries its descriptors too.
    srv.addService(Greeter, { sayHello: ({ name }: { name?: string }) => ({ message: `Hello ${name ?? ''}` }) });
    const health = new HealthServicer();
    health.set('greeter.v1.Greeter', ServingStatus.NOT_SERVING);
    addHealthServicer(srv, health);
    // Custom serializers and no descriptor: listed, but nothing to describe.
    srv.addRegisteredMethodHandlers('custom.Raw', { Echo: unaryUnaryRpcMethodHandler((b: Uint8Array) => b) });
    addReflection(srv);
    address = `127.0.0.1:${await srv.addInsecurePort('127.0.0.1:0')}`;
    await srv.start();
    [v1, v1alpha] = await Promise.all([reflect(address, 'v1'), reflect(address, 'v1alpha')]);
  });
  after(async () => {
    await srv.stop(0);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('list_services names every registered service, fully qualified, reflection and health included', () => {
    const expected = [
      'grpc.testing.TestService',
      'Stamper',
      'routeguide.RouteGuide',
      'greeter.v1.Greeter',
      'grpc.health.v1.Health',
      'custom.Raw',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
    ];
    assert.deepEqual(v1.services, expected);
    assert.deepEqual(v1alpha.services, expected);
  });

  it('serves each file under its import path with every dependency fetchable by name, well-known types included', () => {
    const files = [
      'google/protobuf/any.proto',
      'google/protobuf/duration.proto',
      'google/protobuf/struct.proto',
      'google/protobuf/timestamp.proto',
      'greeter.proto',
      'grpc/health/v1/health.proto',
      'grpc/reflection/v1/reflection.proto',
      'grpc/reflection/v1alpha/reflection.proto',
      'grpc/testing/empty.proto',
      'grpc/testing/messages.proto',
      'grpc/testing/test.proto',
      'route_guide.proto',
      'shapes/base.proto',
      'wkt.proto',
    ];
    assert.deepEqual(v1.files, files);
    assert.deepEqual(v1alpha.files, files);
    // Google's DescriptorPool accepted them all, so every service with descriptors is described.
    assert.deepEqual(v1.described['grpc.testing.TestService'], ['EmptyCall', 'UnaryCall', 'StreamingOutputCall', 'StreamingInputCall', 'FullDuplexCall', 'HalfDuplexCall', 'UnimplementedCall']);
    assert.deepEqual(v1.described.Stamper, ['Echo']);
    assert.deepEqual(v1.described['grpc.reflection.v1.ServerReflection'], ['ServerReflectionInfo']);
    assert.deepEqual(v1.described['grpc.health.v1.Health'], ['Check', 'List', 'Watch']);
    assert.deepEqual(v1alpha.described['grpc.health.v1.Health'], ['Check', 'List', 'Watch']);
    assert.deepEqual(v1.sequence.slice(0, 2), ['list_services', 'file_containing_symbol']);
    assert.ok(v1.sequence.includes('file_by_filename') && v1.sequence.includes('all_extension_numbers_of_type') && v1.sequence.includes('file_containing_extension'));
  });

  it('calls methods dynamically with message types built from the answers: imports, no package, well-known types, maps, an extension', () => {
    for (const report of [v1, v1alpha]) {
      const [empty, hello, echo, server, greeter] = report.calls;
      assert.deepEqual(empty, { method: '/grpc.testing.TestService/EmptyCall', response: {}, equal: true });
      assert.deepEqual(hello, { method: '/greeter.v1.Greeter/SayHello', response: { message: 'Hello reflection' }, equal: false });
      assert.equal(echo!.method, '/Stamper/Echo');
      // MessageToDict shows the extension set on `base` in brackets.
      assert.deepEqual(echo!.response, { ...STAMP, base: { ...STAMP.base, '[shapes.note]': 'an extension' } });
      assert.equal(echo!.equal, true);
      assert.deepEqual(echo!.extensions, { 'shapes.note': 'an extension' });
      // The health service, whose messages are coded by hand, through the types of its served
      // health.proto: the enum comes back by name.
      assert.deepEqual(server, { method: '/grpc.health.v1.Health/Check', response: { status: 'SERVING' }, equal: false });
      assert.deepEqual(greeter, { method: '/grpc.health.v1.Health/Check', response: { status: 'NOT_SERVING' }, equal: false });
    }
  });

  it('all_extension_numbers_of_type lists a type\'s extensions, and an empty list for a known type without any', () => {
    assert.deepEqual(v1.extensions, { 'shapes.Base': [100] });
    const extensionErrors = Object.keys(v1.errors).filter((k) => k.startsWith('extensions of'));
    assert.deepEqual(extensionErrors, [], 'no type the methods use was answered with an error');
  });

  it('answers unknown names with NOT_FOUND in error_response, and the stream stays usable', () => {
    for (const report of [v1, v1alpha]) {
      assert.equal(report.errors['no.such.Symbol']?.[0], NOT_FOUND);
      assert.equal(report.errors['no/such/file.proto']?.[0], NOT_FOUND);
      assert.equal(report.errors['custom.Raw']?.[0], NOT_FOUND, 'a service without a descriptor is listed but not described');
      assert.equal(report.errors['grpc.health.v1.Health'], undefined, 'the health service is described');
      assert.deepEqual(report.after_errors, report.services);
    }
  });

  it('serves file_containing_symbol for methods, fields, nested types, enums, enum values and extensions', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const ask = (field: number, value: string): Buffer => Buffer.concat([Buffer.from([(field << 3) | 2, Buffer.byteLength(value)]), Buffer.from(value)]);
    const call = client.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', (b: Buffer) => b, (b: Buffer) => b);
    const symbols = ['grpc.testing.TestService.UnaryCall', 'grpc.testing.SimpleRequest.response_size', 'grpc.testing.PayloadType', 'grpc.testing.COMPRESSABLE', 'routeguide.Feature', 'shapes.note', 'Stamp.CountsEntry', 'Stamp.label', '.Stamp'];
    const answers: Buffer[] = [];
    const done = new Promise<void>((resolveDone, reject) => {
      call.on('data', (b: Buffer) => {
        answers.push(b);
        if (answers.length === symbols.length) call.end();
      });
      call.on('end', resolveDone);
      call.on('error', reject);
    });
    for (const s of symbols) call.write(ask(4, s));
    await done;
    client.close();
    // Each answer: original_request (field 2, 0x12) echoed, then file_descriptor_response (field 4, 0x22).
    const kinds = answers.map((b) => {
      const echoLength = b[1]!;
      return b[2 + echoLength];
    });
    assert.deepEqual(kinds, symbols.map(() => 0x22));
  });

  it('answers a malformed request INVALID_ARGUMENT, naming the message once', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', (b: Buffer) => b, (b: Buffer) => b);
    const status = new Promise<grpc.StatusObject>((resolveStatus) => call.on('status', resolveStatus));
    call.on('data', () => undefined);
    call.on('error', () => undefined);
    call.write(Buffer.from([0x1a, 0x05, 0x61])); // file_by_filename claiming 5 bytes, holding 1
    call.end();
    const { code, details } = await status;
    client.close();
    assert.equal(code, grpc.status.INVALID_ARGUMENT);
    assert.match(details, /^Cannot decode ServerReflectionRequest: /);
    assert.doesNotMatch(details, /Cannot decode ServerReflectionRequest: Cannot decode/);
  });

  it('serves descriptors byte-equal to protoc --descriptor_set_out --include_imports', () => {
    const cases: Array<[string, string[], ServiceDefinition]> = [
      [INTEROP, ['grpc/testing/test.proto'], (loadProto('grpc/testing/test.proto', { includeDirs: [INTEROP] }) as unknown as { grpc: { testing: { TestService: ServiceDefinition } } }).grpc.testing.TestService],
      [FIXTURES, ['wkt.proto'], (loadProto('wkt.proto', { includeDirs: [FIXTURES] }) as unknown as { Stamper: ServiceDefinition }).Stamper],
      [ROUTE_GUIDE, ['route_guide.proto'], (loadProto('route_guide.proto', { includeDirs: [ROUTE_GUIDE], keepCase: true }) as unknown as { routeguide: { RouteGuide: ServiceDefinition } }).routeguide.RouteGuide],
    ];
    for (const [dir, files, definition] of cases) {
      const reference = protocFiles(dir, files);
      const ours = fileDescriptorsOf(definition)!;
      assert.equal(ours.length, reference.size, `${files.join()}: one descriptor per file`);
      const byName = new Map(ours.map((b) => [b.subarray(2, 2 + b[1]!).toString(), Buffer.from(b)] as const));
      for (const [name, bytes] of reference) assert.deepEqual(byName.get(name), bytes, `${name} as protoc writes it`);
    }
    const greeter = protocFiles(resolve('examples/proto'), ['greeter.proto']);
    assert.deepEqual(fileDescriptorsOf(Greeter)?.map((b) => Buffer.from(b)), [greeter.get('greeter.proto')], 'generated code embeds protoc\'s descriptor');
    // The code generator's kitchen sink: every field kind, proto2 defaults and groups-free legacy.
    const sink = resolve('spec/proto/fixtures');
    const reference = protocFiles(sink, ['sink/kitchen.proto', 'sink/legacy.proto']);
    const built = buildFileDescriptors(loadRoot(['sink/kitchen.proto', 'sink/legacy.proto'], { includeDirs: [sink], keepCase: true }), [sink]);
    for (const [name, bytes] of reference) assert.deepEqual(Buffer.from(built.get(name)!.bytes), bytes, `${name} as protoc writes it`);
  });

  it('describes itself with the descriptors of grpc-proto\'s reflection.proto, as protoc writes them', () => {
    const reference = protocFiles(REFLECTION_PROTOS, ['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto']);
    assert.deepEqual(Buffer.from(REFLECTION_V1_DESCRIPTOR, 'base64'), reference.get('grpc/reflection/v1/reflection.proto'));
    assert.deepEqual(Buffer.from(REFLECTION_V1ALPHA_DESCRIPTOR, 'base64'), reference.get('grpc/reflection/v1alpha/reflection.proto'));
  });

  it('describes the health service with the descriptor of grpc-proto\'s health.proto, as protoc writes it', () => {
    const reference = protocFiles(HEALTH_PROTOS, ['grpc/health/v1/health.proto']);
    assert.deepEqual(Buffer.from(HEALTH_DESCRIPTOR, 'base64'), reference.get('grpc/health/v1/health.proto'));
  });

  it('the interop and route_guide example servers serve reflection and health', async () => {
    const interop = await startInteropServer({ port: 0, useTls: false, host: '127.0.0.1' });
    const routes = await startRouteGuide();
    try {
      // The README's grpcurl walkthrough asks the route_guide server's health this way.
      const check = join(tmp, 'check.json');
      writeFileSync(check, JSON.stringify([{ method: '/grpc.health.v1.Health/Check', request: { service: 'routeguide.RouteGuide' } }]));
      const [a, b] = await Promise.all([reflect(`127.0.0.1:${interop.port}`, 'v1', null), reflect(`127.0.0.1:${routes.port}`, 'v1', check)]);
      const own = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
      assert.deepEqual(a.services, ['grpc.testing.TestService', ...own]);
      assert.deepEqual(a.files, ['grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto', 'grpc/testing/empty.proto', 'grpc/testing/messages.proto', 'grpc/testing/test.proto']);
      assert.deepEqual(b.services, ['routeguide.RouteGuide', ...own]);
      assert.deepEqual(b.described['routeguide.RouteGuide'], ['GetFeature', 'ListFeatures', 'RecordRoute', 'RouteChat']);
      assert.deepEqual(b.described['grpc.health.v1.Health'], ['Check', 'List', 'Watch']);
      assert.deepEqual(b.calls, [{ method: '/grpc.health.v1.Health/Check', response: { status: 'SERVING' }, equal: false }]);
    } finally {
      await Promise.all([interop.server.stop(0), routes.srv.stop(0)]);
    }
  });

  it('options.services picks the health service like any other: described when chosen, left out otherwise', async () => {
    const start = (services: string[]): Server => {
      const one = server();
      one.addService(Greeter, {});
      addHealthServicer(one, new HealthServicer());
      addReflection(one, { services });
      return one;
    };
    const chosen = start(['grpc.health.v1.Health']);
    const left = start(['greeter.v1.Greeter']);
    try {
      const listen = async (one: Server): Promise<string> => {
        const port = await one.addInsecurePort('127.0.0.1:0');
        await one.start();
        return `127.0.0.1:${port}`;
      };
      const [a, b] = await Promise.all([reflect(await listen(chosen), 'v1', null), reflect(await listen(left), 'v1', null)]);
      assert.deepEqual(a.services, ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']);
      assert.deepEqual(a.described['grpc.health.v1.Health'], ['Check', 'List', 'Watch']);
      assert.ok(!a.files.includes('greeter.proto'));
      assert.deepEqual(b.services, ['greeter.v1.Greeter', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']);
      assert.ok(!b.files.includes('grpc/health/v1/health.proto'));
    } finally {
      await Promise.all([chosen.stop(0), left.stop(0)]);
    }
  });

  it('side by side: @grpc/reflection on the same protos, on a grpc-js server', async () => {
    const definition = protoLoader.loadSync(['grpc/testing/test.proto', 'wkt.proto'], { includeDirs: [INTEROP, FIXTURES] });
    const js = new grpc.Server();
    new ReflectionService(definition).addToServer(js);
    const port = await new Promise<number>((ok, fail) => js.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? fail(err) : ok(p))));
    try {
      writeFileSync(calls, '[]');
      // Observed with @grpc/reflection 1.0.x, which rebuilds files from proto-loader's
      // package-merged view instead of serving the original ones: the package-less wkt.proto
      // comes back as "root.proto", without its imports, so Google's DescriptorPool cannot
      // build it and the client cannot go on. Ours serves it as protoc does (the tests above).
      await assert.rejects(reflect(`127.0.0.1:${port}`, 'v1'), (err: Error) => {
        assert.match(err.message, /file "root\.proto"/);
        assert.match(err.message, /Stamp\.at: "google\.protobuf\.Timestamp" is not defined/);
        return true;
      });
    } finally {
      js.forceShutdown();
    }
  });
});
