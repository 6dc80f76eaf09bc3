// The gRPC interop server (doc/interop-test-descriptions.md, "Server"), on grpc-iter's public API,
// serving gRPC and gRPC-Web (CORS open to any origin) on one port.
//   npm run interop:server -- --port=10000 [--use_tls=true]
// (In your own project, import from 'grpc-iter' and 'grpc-iter/proto'.)
import { readFileSync } from 'node:fs';
import { delay } from 'abort-controller-x';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Compression, StatusCode, server, sslServerCredentials, type Server, type ServiceDefinition, type ServicerContext } from '../../lib/index.js';
import { loadProto } from '../../lib/proto/index.js';
import { HealthServicer, ServingStatus, addHealthServicer } from '../../lib/services/health/index.js';
import { addReflection } from '../../lib/services/reflection/index.js';
import { UsageError, parseFlags } from './flags.js';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/** The interop suite's service definitions, loaded from `protos/`. */
export function loadTestProtos(): { TestService: ServiceDefinition; UnimplementedService: ServiceDefinition } {
  const root = loadProto('grpc/testing/test.proto', { includeDirs: [here('./protos')] }) as unknown as {
    grpc: { testing: { TestService: ServiceDefinition; UnimplementedService: ServiceDefinition } };
  };
  return root.grpc.testing;
}

/** The interop suite's test certificates: its CA, and a server certificate for *.test.google.fr. */
export function testCertificates(): { ca: Buffer; serverKey: Buffer; serverCert: Buffer } {
  return { ca: readFileSync(here('./certs/ca.pem')), serverKey: readFileSync(here('./certs/server1.key')), serverCert: readFileSync(here('./certs/server1.pem')) };
}

interface Payload {
  body?: Uint8Array;
}
interface BoolValue {
  value?: boolean;
}
interface EchoStatus {
  code?: number;
  message?: string;
}
interface ResponseParameters {
  size?: number;
  intervalUs?: number;
  compressed?: BoolValue;
}
interface SimpleRequest {
  responseSize?: number;
  payload?: Payload;
  responseCompressed?: BoolValue;
  responseStatus?: EchoStatus;
  expectCompressed?: BoolValue;
}
interface StreamingInputCallRequest {
  payload?: Payload;
  expectCompressed?: BoolValue;
}
interface StreamingOutputCallRequest {
  responseParameters?: ResponseParameters[];
  payload?: Payload;
  responseStatus?: EchoStatus;
}

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';

/** Echo Metadata: the initial key back as a response header, the trailing key as a trailer. */
function echoMetadata(context: ServicerContext): void {
  const md = context.invocationMetadata();
  const initial = md.get(ECHO_INITIAL);
  if (initial !== undefined) context.sendInitialMetadata([[ECHO_INITIAL, initial]]);
  const trailing = md.get(ECHO_TRAILING);
  if (trailing !== undefined) context.setTrailingMetadata([[ECHO_TRAILING, trailing]]);
}

/** Echo Status: ends the call with the status the request asks for (trailers already set stay). */
function echoStatus(status: EchoStatus | undefined, context: ServicerContext): void {
  if (status === undefined || (status.code ?? 0) === 0) return;
  context.abortWithStatus({ code: status.code as StatusCode, details: status.message ?? '', trailingMetadata: context.trailingMetadata() });
}

/** CompressedRequest: a message that had to arrive compressed and did not is INVALID_ARGUMENT. */
function checkCompressed(expect: BoolValue | undefined, context: ServicerContext): void {
  if (expect?.value === true && !context.requestCompressed()) context.abort(StatusCode.INVALID_ARGUMENT, 'Expected a compressed request message, got an uncompressed one');
}

const payload = (size: number | undefined): { payload: { body: Buffer } } => ({ payload: { body: Buffer.alloc(size ?? 0) } });

/** The responses one StreamingOutputCallRequest asks for, each compressed or not as its parameters say. */
async function* respond(request: StreamingOutputCallRequest, context: ServicerContext): AsyncGenerator<{ payload: { body: Buffer } }> {
  for (const p of request.responseParameters ?? []) {
    if ((p.intervalUs ?? 0) > 0) await delay(context.signal, p.intervalUs! / 1000);
    if (p.compressed?.value !== true) context.disableNextMessageCompression();
    yield payload(p.size);
  }
}

/** Compress the call's responses when any of `parameters` asks for it (the rest opt out one by one). */
function compressIfAsked(parameters: readonly ResponseParameters[] | undefined, context: ServicerContext): void {
  if (parameters?.some((p) => p.compressed?.value === true)) context.setCompression(Compression.Gzip);
}

/** The TestService implementation: every server feature the interop cases use. */
export const testService = {
  emptyCall(_request: unknown, context: ServicerContext): object {
    echoMetadata(context);
    return {};
  },

  unaryCall(request: SimpleRequest, context: ServicerContext): object {
    echoMetadata(context);
    checkCompressed(request.expectCompressed, context);
    echoStatus(request.responseStatus, context);
    if (request.responseCompressed?.value === true) context.setCompression(Compression.Gzip);
    return payload(request.responseSize);
  },

  async *streamingOutputCall(request: StreamingOutputCallRequest, context: ServicerContext): AsyncGenerator<object> {
    echoMetadata(context);
    echoStatus(request.responseStatus, context);
    compressIfAsked(request.responseParameters, context);
    yield* respond(request, context);
  },

  async streamingInputCall(requests: AsyncIterable<StreamingInputCallRequest>, context: ServicerContext): Promise<object> {
    echoMetadata(context);
    let aggregatedPayloadSize = 0;
    for await (const request of requests) {
      checkCompressed(request.expectCompressed, context);
      aggregatedPayloadSize += request.payload?.body?.length ?? 0;
    }
    return { aggregatedPayloadSize };
  },

  async *fullDuplexCall(requests: AsyncIterable<StreamingOutputCallRequest>, context: ServicerContext): AsyncGenerator<object> {
    echoMetadata(context);
    for await (const request of requests) {
      echoStatus(request.responseStatus, context);
      compressIfAsked(request.responseParameters, context);
      yield* respond(request, context);
    }
  },

  async *halfDuplexCall(requests: AsyncIterable<StreamingOutputCallRequest>, context: ServicerContext): AsyncGenerator<object> {
    echoMetadata(context);
    const all: StreamingOutputCallRequest[] = [];
    for await (const request of requests) all.push(request);
    for (const request of all) {
      echoStatus(request.responseStatus, context);
      compressIfAsked(request.responseParameters, context);
      yield* respond(request, context);
    }
  },
  // UnimplementedCall is left out on purpose: calling it must answer UNIMPLEMENTED.
};

/** Where and how the interop server listens. */
export interface InteropServerOptions {
  /** The port; 0 picks a free one. */
  readonly port: number;
  /** Serve TLS with the test certificate (server1.pem). */
  readonly useTls: boolean;
  /** The address to bind. @defaultValue `[::]` (every interface) */
  readonly host?: string;
}

/** Starts the interop server. @returns the server and the port it listens on */
export async function startInteropServer(options: InteropServerOptions): Promise<{ server: Server; port: number }> {
  const { TestService } = loadTestProtos();
  // gRPC-Web is served on the same port; a test server, so CORS is open to any origin and
  // browser pages anywhere can run the interop cases gRPC-Web can express.
  const srv = server({ cors: { allowOrigins: '*' } });
  srv.addService(TestService, testService);
  // Health and reflection, so `grpcurl -plaintext localhost:<port> list` and health probes work.
  const health = new HealthServicer();
  health.set('grpc.testing.TestService', ServingStatus.SERVING);
  addHealthServicer(srv, health);
  addReflection(srv);
  const address = `${options.host ?? '[::]'}:${options.port}`;
  let port: number;
  if (options.useTls) {
    const certs = testCertificates();
    port = await srv.addSecurePort(address, sslServerCredentials([{ privateKey: certs.serverKey, certChain: certs.serverCert }]));
  } else {
    port = await srv.addInsecurePort(address);
  }
  await srv.start();
  return { server: srv, port };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { port: 'int', use_tls: 'bool' });
  const { server: srv, port } = await startInteropServer({ port: (flags.port as number | undefined) ?? 0, useTls: flags.use_tls === true });
  console.log(`grpc-iter interop server listening on port ${port}${flags.use_tls === true ? ' (TLS)' : ''}`);
  const stop = (): void => void srv.stop(1);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await srv.waitForTermination();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof UsageError ? `usage: ${err.message}` : err);
    process.exit(2);
  });
}

