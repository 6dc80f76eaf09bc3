import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** lib/web/index.ts bundled for a browser, as an app's bundler would, with its metafile. */
async function bundle(): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    entryPoints: [join(repo, 'lib', 'web', 'index.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    globalName: 'grpcIterWeb',
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: repo,
  });
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) };
}

describe('grpc-iter/web module graph', () => {
  it('bundles for the browser with no node:* module among its inputs', async () => {
    const { inputs } = await bundle();
    assert.ok(inputs.some((i) => i.endsWith('lib/web/fetch-call.ts')), `the web client itself is bundled: ${inputs.join(', ')}`);
    assert.deepEqual(inputs.filter((i) => i.startsWith('node:') || /^(?:zlib|http2|http|net|tls|util|stream|events|buffer)$/.test(i)), []);
    assert.deepEqual(inputs.filter((i) => /lib\/transport\/(?!call-port)|lib\/protocol\/(?:framing|compression-codecs|http2-errors)\.ts/.test(i)), [], 'no node transport, Buffer framing or zlib codec');
  });

  it('evaluates and makes a unary call in a context with no Buffer, process or require', async () => {
    const { code } = await bundle();
    const requests: Array<{ url: string; headers: Record<string, string>; body: Uint8Array }> = [];
    // A fetch that answers one gRPC-Web message "hi" and status OK, built without Buffer.
    const fakeFetch = async (url: string, init: { headers: Headers; body: Uint8Array }): Promise<Response> => {
      const headers: Record<string, string> = {};
      init.headers.forEach((v, k) => (headers[k] = v));
      requests.push({ url, headers, body: init.body });
      const trailer = new TextEncoder().encode('grpc-status: 0\r\n');
      const body = new Uint8Array([0, 0, 0, 0, 2, 0x68, 0x69, 0x80, 0, 0, 0, trailer.length, ...trailer]);
      return new Response(body, { status: 200, headers: { 'content-type': 'application/grpc-web+proto' } });
    };
    const sandbox = {
      fetch: fakeFetch,
      Headers,
      Response,
      ReadableStream,
      TextEncoder,
      TextDecoder,
      AbortController,
      AbortSignal,
      Event,
      EventTarget,
      DOMException,
      setTimeout,
      clearTimeout,
      setInterval,
      clearInterval,
      queueMicrotask,
      console,
    };
    const context = createContext(sandbox);
    runInContext(code, context);
    assert.equal(runInContext('typeof Buffer', context), 'undefined');
    assert.equal(runInContext('typeof process', context), 'undefined');
    assert.equal(runInContext('typeof require', context), 'undefined');
    // Arrays made in the context have its own prototypes: the reply crosses as JSON.
    const reply = JSON.parse((await runInContext(
      `(async () => {
        const channel = grpcIterWeb.grpcWebChannel('https://api.example', { options: { 'grpc.primary_user_agent': 'page' } });
        const echo = channel.unaryUnary('/demo.Echo/Echo');
        const md = new grpcIterWeb.Metadata({ 'trace-bin': new Uint8Array([1, 2, 255]) });
        const reply = await echo(new Uint8Array([7]), { metadata: md, timeout: 30 });
        channel.close();
        return JSON.stringify(Array.from(reply));
      })()`,
      context,
    )) as string) as number[];
    assert.deepEqual(reply, [0x68, 0x69]);
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.equal(request!.url, 'https://api.example/demo.Echo/Echo');
    assert.equal(request!.headers['content-type'], 'application/grpc-web+proto');
    assert.equal(request!.headers['x-grpc-web'], '1');
    assert.equal(request!.headers['trace-bin'], 'AQL/');
    assert.match(request!.headers['x-user-agent']!, /^page grpc-iter\//);
    assert.match(request!.headers['grpc-timeout']!, /^\d{1,8}[HMSmun]$/);
    assert.deepEqual([...request!.body], [0, 0, 0, 0, 1, 7]);
  });
});
