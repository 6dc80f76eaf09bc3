// The interop server built on @grpc/grpc-js: the reference our client is tested against.
//   node --import tsx spec/interop/grpc-js-server.ts --port=10000 [--use_tls=true]
//
// grpc-js's server cannot compress responses, nor tell whether a request message arrived
// compressed. The two interop features that need them (CompressedResponse and
// CompressedRequest) are supplied underneath it, at the node:http2 layer: each incoming
// stream's message flags are read as they pass, and an outgoing message is re-framed
// gzip-compressed when the handler asked for it. Everything else (framing, metadata, status,
// deadlines, cancellation) is grpc-js's own.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseFlags } from '../../examples/interop/flags.js';
import { testCertificates } from '../../examples/interop/server.js';
import { loadTesting } from './grpc-js-protos.js';

interface Wire {
  /** The compressed flag of each request message, in order. */
  readonly requestFlags: boolean[];
  /** Whether responses are gzip-compressed unless `plain` says otherwise. */
  compress: boolean;
  /** For each response message to come, whether it goes uncompressed. */
  readonly plain: boolean[];
}

const WIRE_KEY = 'x-reference-wire-id';
const wires = new Map<string, Wire>();
let nextWire = 0;

function observe(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const id = String(++nextWire);
  headers[WIRE_KEY] = id; // grpc-js turns the same headers object into the call's metadata
  const wire: Wire = { requestFlags: [], compress: false, plain: [] };
  wires.set(id, wire);
  stream.once('close', () => wires.delete(id));
  let prefix: number[] = [];
  let skip = 0;
  stream.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; ) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      prefix.push(chunk[i++]!);
      if (prefix.length === 5) {
        wire.requestFlags.push(prefix[0] === 1);
        skip = Buffer.from(prefix).readUInt32BE(1);
        prefix = [];
      }
    }
  });
  const respond = stream.respond.bind(stream);
  stream.respond = (h?: http2.OutgoingHttpHeaders, o?: http2.ServerStreamResponseOptions): void => {
    if (wire.compress && h !== undefined && h['grpc-status'] === undefined) h['grpc-encoding'] = 'gzip';
    respond(h, o);
  };
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    if (wire.compress && Buffer.isBuffer(chunk) && chunk.length >= 5 && wire.plain.shift() !== true) {
      const body = gzipSync(chunk.subarray(5));
      const framed = Buffer.alloc(5 + body.length);
      framed[0] = 1;
      framed.writeUInt32BE(body.length, 1);
      body.copy(framed, 5);
      return write(framed, ...rest);
    }
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

/** Without the shim: calls get wire state that never compresses and reports every request uncompressed. */
function label(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const id = String(++nextWire);
  headers[WIRE_KEY] = id;
  wires.set(id, { requestFlags: [], compress: false, plain: [] });
  stream.once('close', () => wires.delete(id));
}

function wireOf(call: { metadata: grpc.Metadata }): Wire {
  const id = call.metadata.get(WIRE_KEY)[0];
  const wire = typeof id === 'string' ? wires.get(id) : undefined;
  if (wire === undefined) throw new Error('reference server: no wire state for this call');
  return wire;
}

interface Payload {
  body?: Buffer;
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
  compressed?: BoolValue | null;
}
interface SimpleRequest {
  responseSize?: number;
  payload?: Payload | null;
  responseCompressed?: BoolValue | null;
  responseStatus?: EchoStatus | null;
  expectCompressed?: BoolValue | null;
}
interface StreamingOutputCallRequest {
  responseParameters?: ResponseParameters[];
  responseStatus?: EchoStatus | null;
}
interface StreamingInputCallRequest {
  payload?: Payload | null;
  expectCompressed?: BoolValue | null;
}

type SurfaceCall = { readonly metadata: grpc.Metadata; sendMetadata(md: grpc.Metadata): void };

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';

function echoInitial(call: SurfaceCall): void {
  const value = call.metadata.get(ECHO_INITIAL)[0];
  if (value === undefined) return;
  const md = new grpc.Metadata();
  md.set(ECHO_INITIAL, value);
  call.sendMetadata(md);
}

function echoTrailing(call: SurfaceCall): grpc.Metadata {
  const md = new grpc.Metadata();
  const value = call.metadata.get(ECHO_TRAILING)[0];
  if (value !== undefined) md.set(ECHO_TRAILING, value);
  return md;
}

function statusError(status: EchoStatus | null | undefined, call: SurfaceCall): Partial<grpc.StatusObject> | undefined {
  if (status === null || status === undefined || (status.code ?? 0) === 0) return undefined;
  return { code: status.code!, details: status.message ?? '', metadata: echoTrailing(call) };
}

const payload = (size: number | undefined): { payload: { body: Buffer } } => ({ payload: { body: Buffer.alloc(size ?? 0) } });
const sleepUs = (us: number | undefined): Promise<void> => new Promise((resolve) => setTimeout(resolve, (us ?? 0) / 1000));

/** Writes the responses a request asks for, compressed per its parameters. */
async function writeResponses(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, request: StreamingOutputCallRequest): Promise<void> {
  const wire = wireOf(call);
  const parameters = request.responseParameters ?? [];
  if (parameters.some((p) => p.compressed?.value === true)) wire.compress = true;
  for (const p of parameters) {
    if ((p.intervalUs ?? 0) > 0) await sleepUs(p.intervalUs);
    if (call.cancelled) return;
    wire.plain.push(p.compressed?.value !== true);
    call.write(payload(p.size));
  }
}

const testService: grpc.UntypedServiceImplementation = {
  emptyCall(call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
    echoInitial(call);
    callback(null, {}, echoTrailing(call));
  },

  unaryCall(call: grpc.ServerUnaryCall<SimpleRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const wire = wireOf(call);
    const request = call.request;
    if (request.expectCompressed?.value === true && wire.requestFlags[0] !== true) {
      return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'Expected a compressed request message' });
    }
    if (request.responseCompressed?.value === true) wire.compress = true;
    echoInitial(call);
    const error = statusError(request.responseStatus, call);
    if (error !== undefined) return callback(error);
    callback(null, payload(request.responseSize), echoTrailing(call));
  },

  streamingOutputCall(call: grpc.ServerWritableStream<StreamingOutputCallRequest, unknown>) {
    echoInitial(call);
    const error = statusError(call.request.responseStatus, call);
    if (error !== undefined) call.emit('error', error);
    else void writeResponses(call, call.request).then(() => call.end(echoTrailing(call)));
  },

  streamingInputCall(call: grpc.ServerReadableStream<StreamingInputCallRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const wire = wireOf(call);
    echoInitial(call);
    let index = 0;
    let aggregatedPayloadSize = 0;
    let failed = false;
    call.on('data', (request: StreamingInputCallRequest) => {
      const compressed = wire.requestFlags[index++] === true;
      if (failed) return;
      if (request.expectCompressed?.value === true && !compressed) {
        failed = true;
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'Expected a compressed request message' });
        return;
      }
      aggregatedPayloadSize += request.payload?.body?.length ?? 0;
    });
    call.on('end', () => {
      if (!failed) callback(null, { aggregatedPayloadSize }, echoTrailing(call));
    });
  },

  fullDuplexCall(call: grpc.ServerDuplexStream<StreamingOutputCallRequest, unknown>) {
    echoInitial(call);
    let chain = Promise.resolve();
    let failed = false;
    call.on('data', (request: StreamingOutputCallRequest) => {
      chain = chain.then(async () => {
        if (failed) return;
        const error = statusError(request.responseStatus, call);
        if (error !== undefined) {
          failed = true;
          call.emit('error', error);
          return;
        }
        await writeResponses(call, request);
      });
    });
    call.on('end', () => void chain.then(() => failed || call.end(echoTrailing(call))));
  },

  halfDuplexCall(call: grpc.ServerDuplexStream<StreamingOutputCallRequest, unknown>) {
    echoInitial(call);
    const all: StreamingOutputCallRequest[] = [];
    call.on('data', (request: StreamingOutputCallRequest) => all.push(request));
    call.on('end', async () => {
      for (const request of all) await writeResponses(call, request);
      call.end(echoTrailing(call));
    });
  },
};

export interface JsInteropServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the grpc-js interop server on 127.0.0.1 (or every interface with `host`). */
export async function startJsInteropServer(options: { port?: number; useTls: boolean; host?: string; compressionShim?: boolean }): Promise<JsInteropServer> {
  const { TestService } = loadTesting();
  const server = new grpc.Server();
  server.addService(TestService.service, testService);
  let credentials = grpc.ServerCredentials.createInsecure();
  if (options.useTls) {
    const certs = testCertificates();
    credentials = grpc.ServerCredentials.createSsl(null, [{ private_key: certs.serverKey, cert_chain: certs.serverCert }]);
  }
  // Every stream passes `observe` before grpc-js sees it.
  const { createServer, createSecureServer } = http2;
  const hooked = <T extends http2.Http2Server | http2.Http2SecureServer>(s: T): T => s.prependListener('stream', options.compressionShim === false ? label : observe) as T;
  http2.createServer = ((...args: Parameters<typeof createServer>) => hooked(createServer(...args))) as typeof createServer;
  http2.createSecureServer = ((...args: Parameters<typeof createSecureServer>) => hooked(createSecureServer(...args))) as typeof createSecureServer;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${options.host ?? '127.0.0.1'}:${options.port ?? 0}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
  } finally {
    http2.createServer = createServer;
    http2.createSecureServer = createSecureServer;
  }
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flags = parseFlags(process.argv.slice(2), { port: 'int', use_tls: 'bool' });
  const server = await startJsInteropServer({ port: (flags.port as number | undefined) ?? 0, useTls: flags.use_tls === true, host: '0.0.0.0' });
  console.log(`grpc-js interop server listening on port ${server.port}`);
}
