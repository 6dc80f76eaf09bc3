// The interop matrix: every case of doc/interop-test-descriptions.md both ways — the grpc-iter
// client against the @grpc/grpc-js interop server, and the @grpc/grpc-js interop client
// against the grpc-iter interop server — over plaintext and over TLS with the test CA and the
// foo.test.google.fr override. Then the command lines, as another implementation's harness
// would run them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { TEST_CASES, runTestCase, type InteropClientOptions } from '../../examples/interop/client.js';
import { startInteropServer } from '../../examples/interop/server.js';
import type { Server } from '../../lib/index.js';
import { runJsTestCase } from './grpc-js-client.js';
import { startJsInteropServer, type JsInteropServer } from './grpc-js-server.js';

const tlsOptions = { useTls: true, useTestCa: true, serverHostOverride: 'foo.test.google.fr' } as const;

for (const tls of [false, true]) {
  const transport = tls ? 'TLS' : 'plaintext';
  const connect = (port: number): InteropClientOptions => ({ serverHost: '127.0.0.1', serverPort: port, ...(tls ? tlsOptions : {}) });

  describe(`interop, ${transport}: grpc-iter client → grpc-js server`, () => {
    let server: JsInteropServer;
    before(async () => {
      server = await startJsInteropServer({ useTls: tls });
    });
    after(() => server.close());
    for (const testCase of TEST_CASES) it(testCase, () => runTestCase(testCase, connect(server.port)));
  });

  describe(`interop, ${transport}: grpc-js client → grpc-iter server`, () => {
    let server: Server;
    let port: number;
    before(async () => {
      ({ server, port } = await startInteropServer({ port: 0, useTls: tls, host: '127.0.0.1' }));
    });
    after(() => server.stop(null));
    for (const testCase of TEST_CASES) it(testCase, () => runJsTestCase(testCase, connect(port)));
  });
}

describe('interop checks fail when the peer falls short', () => {
  it('the compression cases fail, saying why, against grpc-js without the compression shim (it cannot compress or see flags)', async () => {
    const server = await startJsInteropServer({ useTls: false, compressionShim: false });
    try {
      await assert.rejects(runTestCase('server_compressed_unary', { serverHost: '127.0.0.1', serverPort: server.port }), {
        name: 'CaseFailure',
        message: "response_compressed true: the response's compressed flag is false",
      });
      await assert.rejects(runTestCase('client_compressed_unary', { serverHost: '127.0.0.1', serverPort: server.port }), {
        name: 'CaseFailure',
        message: 'compressed request: failed with INVALID_ARGUMENT: Expected a compressed request message',
      });
    } finally {
      await server.close();
    }
  });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });
}

describe('interop command lines', () => {
  let child: ChildProcess;
  let port: number;
  before(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'examples/interop/server.ts', '--port=0', '--use_tls=true'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8');
    while (!/port (\d+)/.test(out)) {
      const [chunk] = (await once(child.stdout!, 'data')) as [string];
      out += chunk;
    }
    port = Number(/port (\d+)/.exec(out)![1]);
  });
  after(async () => {
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, 'the server exits 0 on SIGTERM');
  });

  it('the client runs every case over TLS with the official flags and exits 0', async () => {
    const { code, stdout, stderr } = await run([
      'examples/interop/client.ts',
      '--server_host=localhost',
      `--server_port=${port}`,
      '--server_host_override=foo.test.google.fr',
      '--use_tls=true',
      '--use_test_ca=true',
      '--test_case=all',
    ]);
    assert.equal(code, 0, stderr);
    for (const testCase of TEST_CASES) assert.match(stdout, new RegExp(`^${testCase}: passed$`, 'm'));
  });

  it('the client exits 1 with the reason when a case fails (no server at the port)', async () => {
    const { code, stderr } = await run(['examples/interop/client.ts', '--server_host=127.0.0.1', '--server_port=1', '--test_case=empty_unary']);
    assert.equal(code, 1);
    assert.match(stderr, /^empty_unary: FAILED: .*UNAVAILABLE|^empty_unary: FAILED: Cannot connect/m);
  });

  it('the client exits 2 with usage for an unknown case or flag', async () => {
    const unknownCase = await run(['examples/interop/client.ts', `--server_port=${port}`, '--test_case=no_such_case']);
    assert.equal(unknownCase.code, 2);
    assert.match(unknownCase.stderr, /usage: Unknown --test_case "no_such_case"/);
    const unknownFlag = await run(['examples/interop/client.ts', '--server_port=1', '--bogus=1']);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /usage: Unknown flag --bogus/);
  });
});
