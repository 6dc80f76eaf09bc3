// The published package as a consumer gets it: `npm pack` (which builds dist/ through prepack),
// the tarball installed into a scratch ESM project with strict settings and skipLibCheck off,
// `grpc-iter gen` run from the package's bin on a proto with an import and well-known types,
// the project type-checked and compiled with this repo's TypeScript, and a unary call made
// between a server and a client there. The runtime dependencies are linked from this repo's
// node_modules, so the test needs no network.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const npmCli = process.env['npm_execpath'];

/** Runs npm, through the npm that started this process when there is one (PATH otherwise). */
function npm(args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  const options = { cwd, encoding: 'utf8' as const, timeout: 120_000 };
  return npmCli !== undefined && npmCli.endsWith('.js')
    ? spawnSync(process.execPath, [npmCli, ...args], options)
    : spawnSync('npm', args, options);
}

function run(command: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000 });
}

function ok(result: SpawnSyncReturns<string>, what: string): void {
  assert.equal(result.error, undefined, `${what}: ${String(result.error)}`);
  assert.equal(result.status, 0, `${what} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
}

function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const PROTOS = {
  'protos/common/stamp.proto': `syntax = "proto3";
package pack.common;
import "google/protobuf/timestamp.proto";
message Stamp {
  google.protobuf.Timestamp at = 1;
  string by = 2;
}
`,
  'protos/greeter.proto': `syntax = "proto3";
package pack;
import "common/stamp.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/duration.proto";
service Greeter {
  rpc SayHello (HelloRequest) returns (HelloReply);
  rpc Ping (google.protobuf.Empty) returns (google.protobuf.Empty);
}
message HelloRequest {
  string name = 1;
  google.protobuf.Duration wait = 2;
}
message HelloReply {
  string message = 1;
  pack.common.Stamp stamp = 2;
}
`,
};

const MAIN = `import { createClient, insecureChannel, server, StatusCode, RpcError, type ServicerContext } from 'grpc-iter';
import { Greeter, type GreeterServer } from './generated/greeter.js';

const greeter: GreeterServer = {
  sayHello: (request, context: ServicerContext) => {
    if (request.name === '') context.abort(StatusCode.INVALID_ARGUMENT, 'Cannot greet: name is empty');
    return { message: \`Hello \${request.name}\`, stamp: { at: { seconds: 7n, nanos: 0 }, by: 'pack' } };
  },
  ping: () => ({}),
};

const srv = server();
srv.addService(Greeter, greeter);
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();
const channel = insecureChannel(\`127.0.0.1:\${port}\`);
try {
  const client = createClient(Greeter, channel);
  const reply = await client.sayHello({ name: 'pack', wait: { seconds: 1n, nanos: 0 } }, { timeout: 10 });
  let code: number | undefined;
  try {
    await client.sayHello({ name: '' }, { timeout: 10 });
  } catch (error) {
    if (error instanceof RpcError) code = error.code;
  }
  console.log(JSON.stringify({ message: reply.message, seconds: String(reply.stamp?.at?.seconds), by: reply.stamp?.by, code }));
} finally {
  channel.close();
  await srv.stop(0);
}
`;

// Type errors a consumer must get: the classes made by factories have private constructors.
const MISUSE = `import { Channel, Server, InterceptedChannel } from 'grpc-iter';
// @ts-expect-error Channel's constructor is private: use insecureChannel or secureChannel
export const c = new Channel();
// @ts-expect-error Server's constructor is private: use server()
export const s = new Server();
// @ts-expect-error InterceptedChannel's constructor is private: use interceptChannel
export const i = new InterceptedChannel();
`;

describe('the packed package in a consumer project', { timeout: 150_000 }, () => {
  const temp = mkdtempSync(join(tmpdir(), 'grpc-iter-pack-'));
  const project = join(temp, 'consumer');
  let tarball = '';
  after(() => rmSync(temp, { recursive: true, force: true }));

  before(() => {
    const packed = npm(['pack', '--pack-destination', temp], repo);
    ok(packed, 'npm pack');
    const name = readdirSync(temp).find((f) => f.endsWith('.tgz'));
    assert.ok(name !== undefined, `npm pack wrote no tarball:\n${packed.stdout}`);
    tarball = join(temp, name);
    writeTree(project, {
      'package.json': JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
      'tsconfig.json': JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            skipLibCheck: false,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            verbatimModuleSyntax: true,
            outDir: 'out',
            rootDir: 'src',
            types: ['node'],
            typeRoots: [join(repo, 'node_modules', '@types')],
          },
          include: ['src'],
        },
        null,
        2,
      ),
      ...PROTOS,
      'src/main.ts': MAIN,
      'src/misuse.ts': MISUSE,
    });
    // The tarball is unpacked where npm would put it, and its runtime dependencies (with theirs)
    // are linked from this repo's node_modules: a clean clone after `npm ci` has no registry
    // metadata in the npm cache, so an offline `npm install` of the tarball cannot resolve them.
    const target = join(project, 'node_modules', 'grpc-iter');
    mkdirSync(target, { recursive: true });
    ok(spawnSync('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], { encoding: 'utf8' }), 'tar -x');
    const pending = Object.keys((JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    const linked = new Set<string>();
    while (pending.length > 0) {
      const dep = pending.pop()!;
      if (linked.has(dep)) continue;
      linked.add(dep);
      const from = join(repo, 'node_modules', dep);
      mkdirSync(dirname(join(project, 'node_modules', dep)), { recursive: true });
      symlinkSync(from, join(project, 'node_modules', dep), 'dir');
      const manifest = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      pending.push(...Object.keys(manifest.dependencies ?? {}).filter((d) => !existsSync(join(from, 'node_modules', d))));
    }
    // npm links the package's bin into node_modules/.bin from the tree on disk, with no network.
    ok(npm(['rebuild', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project), 'npm rebuild');
  });

  it('ships dist/ with the entry points package.json names, and no sources or specs', () => {
    const listed = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
    ok(listed, 'tar');
    const files = listed.stdout.split('\n').filter((f) => f !== '');
    for (const f of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cli.js', 'package/dist/proto/index.d.ts', 'package/README.md']) {
      assert.ok(files.includes(f), `${f} is missing from the tarball`);
    }
    assert.ok(!files.some((f) => f.startsWith('package/lib/') || f.startsWith('package/spec/')), 'the tarball carries sources or specs');
  });

  it('generates code with the bin, type-checks with skipLibCheck off, and makes a unary call', () => {
    const bin = join(project, 'node_modules', '.bin', 'grpc-iter');
    ok(run(bin, ['gen', '-I', 'protos', 'greeter.proto', '--out', 'src/generated'], project), 'grpc-iter gen');
    const generated = readdirSync(join(project, 'src', 'generated'), { recursive: true }).map(String).sort();
    assert.ok(generated.includes('greeter.ts'), `generated: ${generated.join(', ')}`);
    assert.ok(generated.some((f) => f.includes('timestamp')), `no well-known type generated: ${generated.join(', ')}`);
    assert.ok(generated.some((f) => f.includes('stamp.ts') && f.includes('common')), `the imported file was not generated: ${generated.join(', ')}`);

    ok(run(process.execPath, [tsc, '-p', '.'], project), 'tsc in the consumer project');

    const main = run(process.execPath, ['out/main.js'], project);
    ok(main, 'the consumer server and client');
    assert.deepEqual(JSON.parse(main.stdout.trim()), { message: 'Hello pack', seconds: '7', by: 'pack', code: 3 });
  });

  it('installs the package.json it publishes, with the bin and engines', () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', 'grpc-iter', 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(installed['bin'], { 'grpc-iter': './dist/cli.js' });
    assert.deepEqual(installed['engines'], { node: '>=20.3' });
  });
});
