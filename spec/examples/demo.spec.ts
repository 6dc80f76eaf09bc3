import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

function run(file: string, ...flags: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT: a child `node --test` would otherwise report to this runner, not to stdout.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = execFile(process.execPath, ['--import', 'tsx', ...flags, file], { timeout: 30_000, env }, (err, out) =>
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout: out }),
    );
    child.stdin?.end();
  });
}

describe('examples', () => {
  it('npm run demo (examples/demo.ts) runs route_guide: all four kinds over our client and server, from the .proto', async () => {
    const { code, stdout } = await run('examples/demo.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /GetFeature: "Lighthouse Point" at \(40, -74\)/);
    assert.match(stdout, /GetFeature: no feature at \(0, 0\)/);
    assert.equal(stdout.match(/^ListFeatures: /gm)?.length, 12);
    assert.match(stdout, /RecordRoute: 5 points, 5 features, \d+ m/);
    assert.match(stdout, /RouteChat: got "First message"/);
    assert.match(stdout, /demo: all four RPC kinds answered/);
  });

  it('npm run demo:greeter (examples/greeter/demo.ts) answers a grpc-js client on all four kinds, then exits 0', async () => {
    const { code, stdout } = await run('examples/greeter/demo.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /SayHello {2}-> Hello newcomer/);
    assert.match(stdout, /INVALID_ARGUMENT: Cannot greet: name is empty/);
    assert.match(stdout, /CountTo {3}-> 1 2 3/);
    assert.match(stdout, /GreetAll {2}-> Hello Ada, Grace, Linus/);
    assert.match(stdout, /Chat {6}-> Hi one \/ Hi two/);
  });

  it('the testing example (examples/testing) runs its node:test suite against the route guide over an in-process channel', async () => {
    const { code, stdout } = await run('examples/testing/route_guide.test.ts', '--test', '--test-reporter=tap');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^# pass 6$/m);
    assert.match(stdout, /^# fail 0$/m);
    assert.match(stdout, /ok \d+ - chats: each note comes back/);
  });

  it('the unary client example answers, reads withCall and handles an error status', async () => {
    const { code, stdout } = await run('examples/clients/unary-client.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /reply: Hello unary/);
    assert.match(stdout, /withCall: Hello again \(status 0\)/);
    assert.match(stdout, /error status: INVALID_ARGUMENT "Cannot greet: name is empty"/);
  });

  it('the streaming client example streams each way and composes with it-pipe', async () => {
    const { code, stdout } = await run('examples/clients/streaming-client.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /server stream: 1 2 3/);
    assert.match(stdout, /client stream: Hello Ada, Grace/);
    assert.match(stdout, /bidi via it-pipe: Hi one \/ Hi two \/ Hi three/);
  });

  it('the cancellation client example cancels by deadline, by AbortSignal and by leaving the loop', async () => {
    const { code, stdout } = await run('examples/clients/cancellation-client.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /deadline: DEADLINE_EXCEEDED/);
    assert.match(stdout, /abort: CANCELLED/);
    assert.match(stdout, /break: CANCELLED/);
  });

  it('helloworld serves and calls SayHello from helloworld.proto', async () => {
    const { code, stdout } = await run('examples/helloworld/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /Greeter client received: Hello world/);
  });

  it('the chat example streams both ways through it-pipe and the server notices a client leaving', async () => {
    const { code, stdout } = await run('examples/chat/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /client: echo: hi \| echo: how are you\? \| echo: bye/);
    assert.match(stdout, /client: echo: first line/);
    assert.match(stdout, /client: left the chat \(CANCELLED\)/);
    assert.match(stdout, /server: the client left \(CANCELLED/);
  });

  it('interceptors: the server logs every call and refuses one without a token; the client adds the token and times calls', async () => {
    const { code, stdout } = await run('examples/interceptors/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^server log: \/greeter\.v1\.Greeter\/SayHello -> UNAUTHENTICATED$/m);
    assert.match(stdout, /^no token: UNAUTHENTICATED: Cannot call: missing bearer token$/m);
    assert.match(stdout, /^server log: \/greeter\.v1\.Greeter\/SayHello -> OK$/m);
    assert.match(stdout, /^with token: Hello friend$/m);
    assert.match(stdout, /^with token: Hello #2, friend$/m);
    assert.equal(stdout.match(/^client timing: /gm)?.length, 2);
  });

  it('deadlines: the client deadline reaches the backend through the frontend, and every hop stops when it passes', async () => {
    const { code, stdout } = await run('examples/deadlines/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^backend: got "quick", deadline inherited \(under 1 s left\)$/m);
    assert.match(stdout, /^client: Hello quick$/m);
    assert.match(stdout, /^backend: got "slow", deadline inherited/m);
    assert.match(stdout, /^client: DEADLINE_EXCEEDED after 0\.3 s$/m);
    assert.match(stdout, /^backend: stopped early \((its own deadline passed|the frontend cancelled its call)\)$/m);
  });

  it('tls: TLS, mutual TLS refusing a client without a certificate, and mutual TLS naming the client', async () => {
    const { code, stdout } = await run('examples/tls/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^TLS: Hello you \(over ssl, client anonymous\)$/m);
    assert.match(stdout, /^mutual TLS, no client certificate: refused, UNAVAILABLE$/m);
    assert.match(stdout, /^mutual TLS, with a client certificate: Hello you \(over ssl, client greeter-client\)$/m);
  });

  it('compression: compressed requests and responses, and single messages left uncompressed', async () => {
    const { code, stdout } = await run('examples/compression/main.ts');
    assert.equal(code, 0, stdout);
    assert.deepEqual(stdout.trim().split('\n'), [
      'server: the request arrived uncompressed',
      'client: the response arrived compressed',
      'server: the request arrived compressed',
      'client: Hello #1, stream (compressed)',
      'client: Hello #2, stream (uncompressed)',
      'client: Hello #3, stream (compressed)',
      'client: Hello #4, stream (uncompressed)',
    ]);
  });

  it('sync-handlers: plain functions and generators answer exactly as async ones do', async () => {
    const { code, stdout } = await run('examples/sync-handlers/main.ts');
    assert.equal(code, 0, stdout);
    assert.deepEqual(stdout.trim().split('\n'), [
      'Hello you (sync function)',
      'Hello #1 (sync generator)',
      'Hello #2 (sync generator)',
      'Hello you (async function)',
      'Hello #1 (async generator)',
      'Hello #2 (async generator)',
    ]);
  });

  it('executor: at most maxWorkers handlers at once, in arrival order, and a call that times out while queued never runs', async () => {
    const { code, stdout } = await run('examples/executor/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^answered: Hello a, Hello b, Hello c, Hello d, Hello e, Hello f$/m);
    assert.match(stdout, /^handlers running at once, at most: 2$/m);
    assert.match(stdout, /^started in order: a b c d e f$/m);
    assert.match(stdout, /^impatient call: DEADLINE_EXCEEDED, its handler ran: false$/m);
  });

  it('errors: BadRequest field violations, a RetryInfo the client waits out before retrying, and a detail of our own', async () => {
    const { code, stdout } = await run('examples/errors/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^bad request: INVALID_ARGUMENT "Cannot create user: 3 invalid fields"\n  name: must not be empty\n  email: "ada\.example\.com" is not an email address\n  age: must be positive, got -1$/m);
    assert.match(stdout, /^created: user 1 "Ada"$/m);
    const asked = Number(/^rate limited: UNAVAILABLE, RetryInfo asks to wait (\d+) ms$/m.exec(stdout)?.[1]);
    const waited = Number(/^created after waiting: user 2 "Grace", (\d+) ms after the first try$/m.exec(stdout)?.[1]);
    assert.ok(asked > 0 && waited >= asked, `waited ${waited} ms for a RetryInfo of ${asked} ms`);
    assert.match(stdout, /^duplicate: ALREADY_EXISTS, existing user 1$/m);
  });

  it('opentelemetry: the console exporter prints client → frontend → backend as one trace, each span the child of the one before', async () => {
    const { code, stdout } = await run('examples/opentelemetry/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^client: Hello world, via the frontend$/m);
    const spans = [...stdout.matchAll(/traceId: '(\w+)',\n {2}parentSpanContext: (?:undefined|\{[^}]*spanId: '(\w+)'[^}]*\}),[\s\S]*?name: '([^']+)',\n {2}id: '(\w+)',\n {2}kind: (\d)/g)].map(
      ([, traceId, parent, name, id, kind]) => ({ traceId, parent, name, id, kind: Number(kind) }),
    );
    assert.equal(spans.length, 5, stdout);
    assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, 'one trace');
    const root = spans.find((s) => s.name === 'client work');
    assert.equal(root?.parent, undefined);
    // Down the chain: client work → CLIENT → SERVER (frontend) → CLIENT → SERVER (backend).
    let parent = root!;
    for (const kind of [2, 1, 2, 1]) {
      const child = spans.find((s) => s.parent === parent.id);
      assert.ok(child, `a child of ${parent.name} (${parent.id})`);
      assert.deepEqual([child.name, child.kind], ['greeter.v1.Greeter/SayHello', kind]);
      parent = child;
    }
  });

  it('the generated code the examples use is what `npm run gen` makes from examples/proto/greeter.proto today', async () => {
    const { generateTypeScript } = await import('../../lib/proto/codegen.js');
    const [file] = generateTypeScript('greeter.proto', { includeDirs: ['examples/proto'], importFrom: '../../../lib/index.js' });
    assert.equal(file!.path, 'greeter.ts');
    assert.equal(readFileSync('examples/proto/generated/greeter.ts', 'utf8'), file!.content, 'run: npm run gen -- -I examples/proto greeter.proto --out examples/proto/generated --import-from ../../../lib/index.js');
  });
});

describe('examples: thread pool', () => {
  it('thread-pool: a CPU-bound service in two worker threads while pings on the main thread keep answering', async () => {
    const { code, stdout } = await run('examples/thread-pool/main.ts');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^ping: pong \(thread 0\)$/m);
    assert.match(stdout, /^hashes: 4 answered by 2 worker threads, none by the main thread \(0\): true$/m);
    assert.match(stdout, /^pings while hashing: \d+, slowest [\d.]+ ms, hashing took \d+ ms$/m);
    assert.match(stdout, /^the main thread stayed free: true$/m);
  });
});
