// The browser side: a page on one origin calling a grpc-iter server on another with
// grpc-iter/web. server.ts bundles this file with esbuild when it starts; the page's URL picks the
// body format (`?format=text` for application/grpc-web-text, binary otherwise).
// (In your own project, import from 'grpc-iter/web'.)
import { RpcError, createClient, grpcWebChannel, statusCodeName } from '../../lib/web/index.js';
import { Greeter } from './greeter.js';

// The repository is type-checked with Node's types only (no "dom" lib, so lib/ cannot lean on
// browser globals by accident); the few browser APIs this page uses are declared here.
interface PageElement {
  textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
  append(child: PageElement): void;
}
declare const document: { readonly body: PageElement; getElementById(id: string): PageElement | null; createElement(tag: string): PageElement };
declare const location: { readonly search: string };

const format = new URLSearchParams(location.search).get('format') === 'text' ? 'text' : 'binary';
const serverUrl = document.body.dataset['grpcServer'] ?? '';
const client = createClient(Greeter, grpcWebChannel(serverUrl, { format }));

/** Writes `text` into the element with this id, and returns it. */
function show(id: string, text: string): PageElement {
  const element = document.getElementById(id)!;
  element.textContent = text;
  return element;
}

/** Milliseconds since `start`, to one decimal. */
const since = (start: number): number => Math.round((performance.now() - start) * 10) / 10;

async function unary(): Promise<void> {
  // withCall gives the response metadata too: x-served-by is readable because the server's
  // CORS answer lists it in Access-Control-Expose-Headers.
  const { response, initialMetadata } = await client.sayHello.withCall({ name: 'browser' }, { timeout: 10 });
  show('unary', response.message);
  show('unary-served-by', String(initialMetadata.get('x-served-by') ?? '(not readable)'));
}

async function serverStream(): Promise<void> {
  const list = document.getElementById('stream')!;
  const start = performance.now();
  // Each message is shown the moment it arrives, with its time since the call began.
  for await (const reply of client.countTo({ name: 'browser', count: 4 }, { timeout: 10 })) {
    const item = document.createElement('li');
    const at = since(start);
    item.dataset['at'] = String(at);
    item.textContent = `+${at} ms  ${reply.message}`;
    list.append(item);
  }
  const at = since(start);
  show('stream-end', `stream ended after ${at} ms`).dataset['at'] = String(at);
}

async function error(): Promise<void> {
  try {
    await client.sayHello({ name: '' }, { timeout: 10 });
    show('error', 'no error (unexpected)');
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    // grpc-status and grpc-message arrive as response headers here (a Trailers-Only answer);
    // without CORS exposing them the browser would hide them and this would read UNKNOWN.
    show('error', `${statusCodeName(e.code)} (${e.code}): ${e.details}`);
    show('error-reason', String(e.trailingMetadata.get('x-error-reason') ?? '(not readable)'));
  }
}

show('format', format);
try {
  await unary();
  await serverStream();
  await error();
  document.body.dataset['state'] = 'done';
} catch (e) {
  show('failure', e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  document.body.dataset['state'] = 'failed';
}
