// The interop client built on @grpc/grpc-js: the reference our server is tested against.
//   node --import tsx spec/interop/grpc-js-client.ts --server_port=10000 --test_case=all [--use_tls ...]
//
// grpc-js's client cannot see a response message's compressed flag, so in the
// server_compressed_* cases it checks what it can (the call succeeds, sizes and contents),
// as the descriptions allow ("some languages may not have access to the message flags").
import * as grpc from '@grpc/grpc-js';
import { isDeepStrictEqual } from 'node:util';
import { pathToFileURL } from 'node:url';
import { parseFlags } from '../../examples/interop/flags.js';
import { TEST_CASES, CaseFailure, type InteropClientOptions, type TestCase } from '../../examples/interop/client.js';
import { testCertificates } from '../../examples/interop/server.js';
import { loadTesting } from './grpc-js-protos.js';

type Msg = Record<string, unknown>;
interface Payload {
  body?: Buffer;
}
type Any = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

const GZIP = 2; // grpc-js's compression algorithm number for gzip
const NO_COMPRESS = 2; // grpc-js's WriteFlags.NoCompress
const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
const SPECIAL_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n';
const zeros = (n: number): Msg => ({ body: Buffer.alloc(n) });

function check(ok: boolean, what: string): void {
  if (!ok) throw new CaseFailure(what);
}

function checkBody(payload: Payload | undefined | null, size: number, what: string): void {
  const body = payload?.body ?? Buffer.alloc(0);
  check(body.length === size, `${what}: payload body is ${body.length} bytes, expected ${size}`);
  check(body.every((b) => b === 0), `${what}: payload body is not all zeros`);
}

interface Unary {
  response?: Msg;
  error?: grpc.ServiceError;
  initial?: grpc.Metadata;
  trailing?: grpc.Metadata;
}

function unary(client: Any, method: string, request: Msg, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<Unary> {
  return new Promise((resolve) => {
    const result: Unary = {};
    const call = client[method]!(request, metadata, options, (error: grpc.ServiceError | null, response: Msg) => {
      if (error) result.error = error;
      else result.response = response;
    }) as grpc.ClientUnaryCall;
    call.on('metadata', (md) => (result.initial = md));
    call.on('status', (s: grpc.StatusObject) => {
      result.trailing = s.metadata;
      // The callback runs before 'status'; give it the same turn.
      setImmediate(() => resolve(result));
    });
  });
}

function clientStream(client: Any, method: string, requests: Array<[Msg, number?]>, options: grpc.CallOptions = {}): Promise<Unary> {
  return new Promise((resolve) => {
    const result: Unary = {};
    const call = client[method]!(new grpc.Metadata(), options, (error: grpc.ServiceError | null, response: Msg) => {
      if (error) result.error = error;
      else result.response = response;
    }) as grpc.ClientWritableStream<Msg>;
    call.on('status', () => setImmediate(() => resolve(result)));
    for (const [message, flags] of requests) {
      if (flags === undefined) call.write(message);
      else call.write(message, flags as unknown as BufferEncoding);
    }
    call.end();
  });
}

interface Collected {
  responses: Msg[];
  error?: grpc.ServiceError;
  initial?: grpc.Metadata;
  status?: grpc.StatusObject;
}

function collect(call: grpc.ClientReadableStream<Msg> | grpc.ClientDuplexStream<Msg, Msg>): Promise<Collected> {
  return new Promise((resolve) => {
    const result: Collected = { responses: [] };
    call.on('metadata', (md) => (result.initial = md));
    call.on('data', (m: Msg) => result.responses.push(m));
    call.on('error', (e: grpc.ServiceError) => (result.error = e));
    call.on('status', (s: grpc.StatusObject) => {
      result.status = s;
      setImmediate(() => resolve(result));
    });
  });
}

function expectCode(error: grpc.ServiceError | undefined, code: grpc.status, what: string): grpc.ServiceError {
  check(error !== undefined, `${what}: succeeded, expected status ${grpc.status[code]}`);
  check(error!.code === code, `${what}: status ${grpc.status[error!.code]} (${error!.details}), expected ${grpc.status[code]}`);
  return error!;
}

function ok<T extends { error?: grpc.ServiceError }>(r: T, what: string): T {
  if (r.error !== undefined) throw new CaseFailure(`${what}: failed with ${grpc.status[r.error.code]}: ${r.error.details}`);
  return r;
}

interface Clients {
  plain: Any;
  gzip: Any;
  unimplemented: Any;
}

const cases: Record<TestCase, (c: Clients) => Promise<void>> = {
  async empty_unary({ plain }) {
    const r = ok(await unary(plain, 'emptyCall', {}), 'EmptyCall');
    check(r.response !== null && typeof r.response === 'object', 'response is null');
  },
  async large_unary({ plain }) {
    const r = ok(await unary(plain, 'unaryCall', { responseSize: 314159, payload: zeros(271828) }), 'UnaryCall');
    checkBody(r.response!.payload as Payload, 314159, 'response');
  },
  async client_compressed_unary({ plain, gzip }) {
    const request = { expectCompressed: { value: true }, responseSize: 314159, payload: zeros(271828) };
    expectCode((await unary(plain, 'unaryCall', request)).error, grpc.status.INVALID_ARGUMENT, 'probe');
    checkBody(ok(await unary(gzip, 'unaryCall', request), 'compressed').response!.payload as Payload, 314159, 'compressed request');
    checkBody(ok(await unary(plain, 'unaryCall', { ...request, expectCompressed: { value: false } }), 'uncompressed').response!.payload as Payload, 314159, 'uncompressed request');
  },
  async server_compressed_unary({ plain }) {
    for (const value of [true, false]) {
      const r = ok(await unary(plain, 'unaryCall', { responseCompressed: { value }, responseSize: 314159, payload: zeros(271828) }), `response_compressed ${value}`);
      checkBody(r.response!.payload as Payload, 314159, `response_compressed ${value}`);
    }
  },
  async client_streaming({ plain }) {
    const r = ok(await clientStream(plain, 'streamingInputCall', [27182, 8, 1828, 45904].map((n) => [{ payload: zeros(n) }])), 'StreamingInputCall');
    check(r.response!.aggregatedPayloadSize === 74922, `aggregated_payload_size is ${String(r.response!.aggregatedPayloadSize)}, expected 74922`);
  },
  async client_compressed_streaming({ plain, gzip }) {
    const probe = { expectCompressed: { value: true }, payload: zeros(27182) };
    expectCode((await clientStream(plain, 'streamingInputCall', [[probe]])).error, grpc.status.INVALID_ARGUMENT, 'probe');
    const r = ok(await clientStream(gzip, 'streamingInputCall', [[probe], [{ expectCompressed: { value: false }, payload: zeros(45904) }, NO_COMPRESS]]), 'StreamingInputCall');
    check(r.response!.aggregatedPayloadSize === 73086, `aggregated_payload_size is ${String(r.response!.aggregatedPayloadSize)}, expected 73086`);
  },
  async server_streaming({ plain }) {
    const sizes = [31415, 9, 2653, 58979];
    const r = ok(await collect(plain.streamingOutputCall!({ responseParameters: sizes.map((size) => ({ size })) }) as grpc.ClientReadableStream<Msg>), 'StreamingOutputCall');
    check(r.responses.length === 4, `${r.responses.length} responses, expected 4`);
    r.responses.forEach((m, i) => checkBody(m.payload as Payload, sizes[i]!, `response ${i + 1}`));
  },
  async server_compressed_streaming({ plain }) {
    const parameters = [
      { compressed: { value: true }, size: 31415 },
      { compressed: { value: false }, size: 92653 },
    ];
    const r = ok(await collect(plain.streamingOutputCall!({ responseParameters: parameters }) as grpc.ClientReadableStream<Msg>), 'StreamingOutputCall');
    check(r.responses.length === 2, `${r.responses.length} responses, expected 2`);
    r.responses.forEach((m, i) => checkBody(m.payload as Payload, parameters[i]!.size, `response ${i + 1}`));
  },
  async ping_pong({ plain }) {
    const requestSizes = [27182, 8, 1828, 45904];
    const responseSizes = [31415, 9, 2653, 58979];
    const call = plain.fullDuplexCall!() as grpc.ClientDuplexStream<Msg, Msg>;
    const done = collect(call);
    let i = 0;
    const send = (): void => {
      call.write({ responseParameters: [{ size: responseSizes[i] }], payload: zeros(requestSizes[i]!) });
    };
    call.on('data', () => {
      if (++i < 4) send();
      else call.end();
    });
    send();
    const r = ok(await done, 'FullDuplexCall');
    check(r.responses.length === 4, `${r.responses.length} responses, expected 4`);
    r.responses.forEach((m, j) => checkBody(m.payload as Payload, responseSizes[j]!, `response ${j + 1}`));
  },
  async empty_stream({ plain }) {
    const call = plain.fullDuplexCall!() as grpc.ClientDuplexStream<Msg, Msg>;
    const done = collect(call);
    call.end();
    const r = ok(await done, 'FullDuplexCall');
    check(r.responses.length === 0, `${r.responses.length} responses, expected none`);
  },
  async cancel_after_begin({ plain }) {
    const call = plain.streamingInputCall!(() => undefined) as grpc.ClientWritableStream<Msg>;
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    setImmediate(() => call.cancel());
    const s = await status;
    check(s.code === grpc.status.CANCELLED, `status ${grpc.status[s.code]}, expected CANCELLED`);
  },
  async cancel_after_first_response({ plain }) {
    const call = plain.fullDuplexCall!() as grpc.ClientDuplexStream<Msg, Msg>;
    const done = collect(call);
    call.once('data', () => call.cancel());
    call.write({ responseParameters: [{ size: 31415 }], payload: zeros(27182) });
    const r = await done;
    check(r.responses.length >= 1, 'no response before the cancel');
    expectCode(r.error, grpc.status.CANCELLED, 'cancelled call');
  },
  async timeout_on_sleeping_server({ plain }) {
    const call = plain.fullDuplexCall!({ deadline: Date.now() + 1 }) as grpc.ClientDuplexStream<Msg, Msg>;
    const done = collect(call);
    call.write({ payload: zeros(27182) });
    expectCode((await done).error, grpc.status.DEADLINE_EXCEEDED, 'call with a 1 ms deadline');
  },
  async custom_metadata({ plain }) {
    const trailing = Buffer.from([0xab, 0xab, 0xab]);
    const metadata = (): grpc.Metadata => {
      const md = new grpc.Metadata();
      md.set(ECHO_INITIAL, 'test_initial_metadata_value');
      md.set(ECHO_TRAILING, trailing);
      return md;
    };
    const checkEcho = (initial: grpc.Metadata | undefined, trailer: grpc.Metadata | undefined, what: string): void => {
      const i = initial?.get(ECHO_INITIAL)[0];
      const t = trailer?.get(ECHO_TRAILING)[0];
      check(i === 'test_initial_metadata_value', `${what}: initial metadata ${ECHO_INITIAL} is ${JSON.stringify(i)}`);
      check(Buffer.isBuffer(t) && isDeepStrictEqual(t, trailing), `${what}: trailing metadata ${ECHO_TRAILING} is ${String(t)}, expected 0xababab`);
    };
    const u = ok(await unary(plain, 'unaryCall', { responseSize: 314159, payload: zeros(271828) }, metadata()), 'UnaryCall');
    checkEcho(u.initial, u.trailing, 'UnaryCall');
    const call = plain.fullDuplexCall!(metadata()) as grpc.ClientDuplexStream<Msg, Msg>;
    const done = collect(call);
    call.write({ responseParameters: [{ size: 314159 }], payload: zeros(271828) });
    call.end();
    const r = ok(await done, 'FullDuplexCall');
    check(r.responses.length === 1, `FullDuplexCall: ${r.responses.length} responses, expected 1`);
    checkEcho(r.initial, r.status?.metadata, 'FullDuplexCall');
  },
  async status_code_and_message({ plain }) {
    const responseStatus = { code: 2, message: 'test status message' };
    const u = expectCode((await unary(plain, 'unaryCall', { responseStatus })).error, grpc.status.UNKNOWN, 'UnaryCall');
    check(u.details === responseStatus.message, `UnaryCall: status message ${JSON.stringify(u.details)}`);
    const call = plain.fullDuplexCall!() as grpc.ClientDuplexStream<Msg, Msg>;
    const done = collect(call);
    call.write({ responseStatus });
    call.end();
    const d = expectCode((await done).error, grpc.status.UNKNOWN, 'FullDuplexCall');
    check(d.details === responseStatus.message, `FullDuplexCall: status message ${JSON.stringify(d.details)}`);
  },
  async special_status_message({ plain }) {
    const e = expectCode((await unary(plain, 'unaryCall', { responseStatus: { code: 2, message: SPECIAL_MESSAGE } })).error, grpc.status.UNKNOWN, 'UnaryCall');
    check(e.details === SPECIAL_MESSAGE, `status message ${JSON.stringify(e.details)}, expected ${JSON.stringify(SPECIAL_MESSAGE)}`);
  },
  async unimplemented_method({ plain }) {
    expectCode((await unary(plain, 'unimplementedCall', {})).error, grpc.status.UNIMPLEMENTED, 'TestService/UnimplementedCall');
  },
  async unimplemented_service({ unimplemented }) {
    expectCode((await unary(unimplemented, 'unimplementedCall', {})).error, grpc.status.UNIMPLEMENTED, 'UnimplementedService/UnimplementedCall');
  },
};

/** Runs one case with grpc-js against the server. @throws CaseFailure when it does not pass */
export async function runJsTestCase(testCase: TestCase, options: InteropClientOptions): Promise<void> {
  const { TestService, UnimplementedService } = loadTesting();
  const host = options.serverHost.includes(':') ? `[${options.serverHost}]` : options.serverHost;
  const target = `${host}:${options.serverPort}`;
  const credentials = options.useTls === true ? grpc.credentials.createSsl(options.useTestCa === true ? testCertificates().ca : null) : grpc.credentials.createInsecure();
  const channelOptions: grpc.ChannelOptions = options.serverHostOverride === undefined ? {} : { 'grpc.ssl_target_name_override': options.serverHostOverride, 'grpc.default_authority': options.serverHostOverride };
  const clients: Clients = {
    plain: new TestService(target, credentials, channelOptions) as unknown as Any,
    gzip: new TestService(target, credentials, { ...channelOptions, 'grpc.default_compression_algorithm': GZIP }) as unknown as Any,
    unimplemented: new UnimplementedService(target, credentials, channelOptions) as unknown as Any,
  };
  try {
    await cases[testCase](clients);
  } finally {
    for (const c of Object.values(clients)) c.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flags = parseFlags(process.argv.slice(2), { server_host: 'string', server_port: 'int', server_host_override: 'string', use_tls: 'bool', use_test_ca: 'bool', test_case: 'string' });
  const name = (flags.test_case as string | undefined) ?? 'large_unary';
  let failed = 0;
  for (const testCase of name === 'all' ? TEST_CASES : [name as TestCase]) {
    try {
      await runJsTestCase(testCase, {
        serverHost: (flags.server_host as string | undefined) ?? 'localhost',
        serverPort: flags.server_port as number,
        serverHostOverride: flags.server_host_override as string | undefined,
        useTls: flags.use_tls === true,
        useTestCa: flags.use_test_ca === true,
      });
      console.log(`${testCase}: passed`);
    } catch (err) {
      failed++;
      console.error(`${testCase}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  process.exitCode = failed === 0 ? 0 : 1;
}
