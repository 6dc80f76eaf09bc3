// Shared test helpers: a grpc-iter server on 127.0.0.1:0 and a @grpc/grpc-js client for it,
// with string messages so no protobuf is involved.
import * as grpc from '@grpc/grpc-js';
import { methodHandlersGenericHandler, server, type RpcMethodHandler, type Server, type ServerConfig } from '../../lib/index.js';

export { defer, type Deferred } from '../../lib/util/index.js';

export const encode = (s: string): Buffer => Buffer.from(s, 'utf8');
export const decode = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

export type Kind = 'unary' | 'serverStream' | 'clientStream' | 'bidi';

/** A started grpc-iter server serving `service` with the given handlers. */
export interface TestServer {
  readonly srv: Server;
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function startServer(handlers: Record<string, RpcMethodHandler<any, any>>, config: ServerConfig = {}, service = 'test.Svc'): Promise<TestServer> {
  const srv = server({ onHandlerError: () => undefined, ...config });
  srv.addGenericRpcHandlers([methodHandlersGenericHandler(service, handlers)]);
  const port = await srv.addInsecurePort('127.0.0.1:0');
  await srv.start();
  return { srv, port, address: `127.0.0.1:${port}`, close: () => srv.stop(null) };
}

/** grpc-js method definitions with string messages, by kind. */
export function stringMethods(methods: Record<string, Kind>, service: string): Record<string, grpc.MethodDefinition<string, string>> {
  const definition: Record<string, grpc.MethodDefinition<string, string>> = {};
  for (const [name, kind] of Object.entries(methods)) {
    definition[name] = {
      path: `/${service}/${name}`,
      requestStream: kind === 'clientStream' || kind === 'bidi',
      responseStream: kind === 'serverStream' || kind === 'bidi',
      requestSerialize: encode,
      requestDeserialize: decode,
      responseSerialize: encode,
      responseDeserialize: decode,
    };
  }
  return definition;
}

/** A grpc-js client for string-message methods of `service`, by kind. */
export function jsClient(address: string, methods: Record<string, Kind>, options: grpc.ChannelOptions = {}, service = 'test.Svc', credentials = grpc.credentials.createInsecure()): JsClient {
  const definition = stringMethods(methods, service);
  const Ctor = grpc.makeGenericClientConstructor(definition, service);
  const client = new Ctor(address, credentials, options) as unknown as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  return new JsClient(client);
}

/** What a finished grpc-js call reports. */
export interface CallResult<T> {
  value?: T;
  error?: grpc.ServiceError;
  metadata?: grpc.Metadata;
  status?: grpc.StatusObject;
}

export class JsClient {
  constructor(readonly raw: grpc.Client & Record<string, (...args: unknown[]) => unknown>) {}

  close(): void {
    this.raw.close();
  }

  /** A unary call; resolves with the value, initial metadata and status (never rejects). */
  unary(method: string, request: string, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<CallResult<string>> {
    return new Promise((resolve) => {
      const result: CallResult<string> = {};
      const call = this.raw[method]!(request, metadata, options, (error: grpc.ServiceError | null, value: string) => {
        if (error) result.error = error;
        else result.value = value;
      }) as grpc.ClientUnaryCall;
      call.on('metadata', (md) => (result.metadata = md));
      call.on('status', (status) => {
        result.status = status;
        setImmediate(() => resolve(result));
      });
    });
  }

  /** A server-streaming call, collecting every message. */
  serverStream(method: string, request: string, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<CallResult<string[]>> {
    const call = this.raw[method]!(request, metadata, options) as grpc.ClientReadableStream<string>;
    return collect(call);
  }

  /** Opens a server-streaming call (to cancel or read slowly). */
  openServerStream(method: string, request: string, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): grpc.ClientReadableStream<string> {
    return this.raw[method]!(request, metadata, options) as grpc.ClientReadableStream<string>;
  }

  /** A client-streaming call sending `requests`. */
  clientStream(method: string, requests: string[], metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<CallResult<string>> {
    return new Promise((resolve) => {
      const result: CallResult<string> = {};
      const call = this.raw[method]!(metadata, options, (error: grpc.ServiceError | null, value: string) => {
        if (error) result.error = error;
        else result.value = value;
      }) as grpc.ClientWritableStream<string>;
      call.on('metadata', (md) => (result.metadata = md));
      call.on('status', (status) => {
        result.status = status;
        setImmediate(() => resolve(result));
      });
      for (const r of requests) call.write(r);
      call.end();
    });
  }

  /** Opens a client-streaming call to write to by hand. */
  openClientStream(method: string, callback: (error: grpc.ServiceError | null, value?: string) => void, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): grpc.ClientWritableStream<string> {
    return this.raw[method]!(metadata, options, callback) as grpc.ClientWritableStream<string>;
  }

  /** A bidi call sending `requests` then half-closing, collecting every response. */
  bidi(method: string, requests: string[], metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<CallResult<string[]>> {
    const call = this.raw[method]!(metadata, options) as grpc.ClientDuplexStream<string, string>;
    const done = collect(call);
    for (const r of requests) call.write(r);
    call.end();
    return done;
  }

  /** Opens a bidi call. */
  openBidi(method: string, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): grpc.ClientDuplexStream<string, string> {
    return this.raw[method]!(metadata, options) as grpc.ClientDuplexStream<string, string>;
  }
}

function collect(call: grpc.ClientReadableStream<string> | grpc.ClientDuplexStream<string, string>): Promise<CallResult<string[]>> {
  return new Promise((resolve) => {
    const result: CallResult<string[]> = { value: [] };
    call.on('data', (m: string) => result.value!.push(m));
    call.on('metadata', (md) => (result.metadata = md));
    call.on('error', (e: grpc.ServiceError) => (result.error = e));
    call.on('status', (status) => {
      result.status = status;
      setImmediate(() => resolve(result));
    });
  });
}

/** Resolves after `ms` milliseconds; only for bounded "nothing happened" checks, never to order events. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` until true or `timeoutMs` passes. */
export async function eventually(predicate: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(5);
  }
}
