import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';

function run(file: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', file], { timeout: 30_000 }, (err, out) =>
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
});
