// The gRPC-Web example's servers: a grpc-iter server for demo.Greeter, whose port serves
// gRPC and gRPC-Web alike, with CORS allowing the page's origin; and a static file server for
// the page on another port, so the page calls the gRPC server cross-origin as a real front end
// would. The page is bundled with esbuild into a temp directory when the servers start.
// Run it with `node --import tsx examples/grpc-web/server.ts [--grpc-port 50051] [--page-port 8080]`
// and open the page URL it prints. (In your own project, import from 'grpc-iter'.)
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { delay } from 'abort-controller-x';
import { build } from 'esbuild';
import { StatusCode, server, type ServicerContext } from '../../lib/index.js';
import { Greeter, type HelloReply, type HelloRequest } from './greeter.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/** How far apart CountTo sends its messages, so the page can see them arrive one by one. */
export const STREAM_INTERVAL_MS = 200;

const greeter = {
  sayHello(request: HelloRequest, context: ServicerContext): HelloReply {
    if (request.name === '') {
      // Custom trailing metadata on an error: the CORS answer exposes it like grpc-status.
      context.setTrailingMetadata({ 'x-error-reason': 'empty-name' });
      context.abort(StatusCode.INVALID_ARGUMENT, 'Cannot greet: name is empty');
    }
    context.sendInitialMetadata({ 'x-served-by': 'grpc-iter' });
    return { message: `Hello ${request.name}` };
  },
  async *countTo(request: HelloRequest, context: ServicerContext): AsyncGenerator<HelloReply> {
    const count = Math.min(request.count ?? 3, 20);
    for (let i = 1; i <= count; i++) {
      // delay() rejects as soon as the page goes away (the fetch is aborted) or the deadline passes.
      if (i > 1) await delay(context.signal, STREAM_INTERVAL_MS);
      yield { message: `Hello #${i}, ${request.name}` };
    }
  },
};

/** The running example: both URLs, and how to stop it. */
export interface GrpcWebExample {
  /** The gRPC (and gRPC-Web) server, e.g. `http://127.0.0.1:50051`. */
  readonly grpcUrl: string;
  /** The page, on another origin. */
  readonly pageUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the page's static server, then the gRPC server with CORS for the page's origin.
 * @param ports - the two ports; 0 (the default) picks free ones
 */
export async function startGrpcWebExample(ports: { grpcPort?: number; pagePort?: number } = {}): Promise<GrpcWebExample> {
  const dir = await mkdtemp(join(tmpdir(), 'grpc-web-example-'));
  const files = new Map<string, { path: string; type: string }>([
    ['/', { path: join(dir, 'index.html'), type: 'text/html; charset=utf-8' }],
    ['/page.js', { path: join(dir, 'page.js'), type: 'text/javascript; charset=utf-8' }],
  ]);
  const pages: HttpServer = createServer((request, response) => {
    const file = files.get(new URL(request.url ?? '/', 'http://page').pathname);
    if (request.method !== 'GET' || file === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    readFile(file.path).then(
      (body) => response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(body),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => pages.listen(ports.pagePort ?? 0, '127.0.0.1', resolve));
  const pagePort = (pages.address() as AddressInfo).port;

  // CORS is off unless configured. Both names of this host are allowed, as a browser sends
  // whichever the page was opened with as its Origin.
  const srv = server({ cors: { allowOrigins: [`http://127.0.0.1:${pagePort}`, `http://localhost:${pagePort}`], maxAgeSeconds: 600 } });
  srv.addService(Greeter, greeter);
  const grpcPort = await srv.addInsecurePort(`127.0.0.1:${ports.grpcPort ?? 0}`);
  await srv.start();
  const grpcUrl = `http://127.0.0.1:${grpcPort}`;

  await build({ entryPoints: [here('./page.ts')], outfile: join(dir, 'page.js'), bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'warning' });
  const html = await readFile(here('./index.html'), 'utf8');
  await writeFile(join(dir, 'index.html'), html.replace('%GRPC_SERVER%', grpcUrl));

  return {
    grpcUrl,
    pageUrl: `http://127.0.0.1:${pagePort}/`,
    async close() {
      pages.closeAllConnections();
      await Promise.all([srv.stop(0), new Promise((resolve) => pages.close(resolve))]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const flag = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const example = await startGrpcWebExample({ grpcPort: flag('--grpc-port') ?? 50051, pagePort: flag('--page-port') ?? 8080 });
  console.log(`gRPC and gRPC-Web on ${example.grpcUrl}`);
  console.log(`page on ${example.pageUrl} (binary) and ${example.pageUrl}?format=text`);
  console.log('Ctrl-C stops both');
  const stop = (): void => void example.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
