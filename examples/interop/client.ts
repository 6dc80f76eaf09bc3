// The gRPC interop client (doc/interop-test-descriptions.md, "Client"), on grpc-iter's public API.
//   npm run interop:client -- --server_host=localhost --server_port=10000 --test_case=large_unary
//     [--use_tls=true --use_test_ca=true --server_host_override=foo.test.google.fr]
// Exits 0 when the case passes; otherwise prints why and exits 1. The cases of
// doc/negative-http2-interop-test-descriptions.md (rst_after_header, rst_after_data,
// rst_during_data, goaway, ping, max_streams) run against the misbehaving server
// spec/interop/negative-http2-server.py started with the same --test_case.
// (In your own project, import from 'grpc-iter'.)
import { isDeepStrictEqual } from 'node:util';
import { pathToFileURL } from 'node:url';
import { pushable } from 'it-pushable';
import {
  Compression,
  RpcError,
  StatusCode,
  createClient,
  insecureChannel,
  secureChannel,
  sslChannelCredentials,
  statusCodeName,
  uncompressed,
  type CallOptions,
  type CallResult,
  type Channel,
  type StreamingCall,
} from '../../lib/index.js';
import { UsageError, parseFlags } from './flags.js';
import { loadTestProtos, testCertificates } from './server.js';

/** Every case this client runs, in the order `all` runs them. */
export const TEST_CASES = [
  'empty_unary',
  'large_unary',
  'client_compressed_unary',
  'server_compressed_unary',
  'client_streaming',
  'client_compressed_streaming',
  'server_streaming',
  'server_compressed_streaming',
  'ping_pong',
  'empty_stream',
  'cancel_after_begin',
  'cancel_after_first_response',
  'timeout_on_sleeping_server',
  'custom_metadata',
  'status_code_and_message',
  'special_status_message',
  'unimplemented_method',
  'unimplemented_service',
] as const;

/** The name of an interop test case. */
export type TestCase = (typeof TEST_CASES)[number];

/**
 * The client side of grpc/grpc `doc/negative-http2-interop-test-descriptions.md`. Each runs only
 * against the suite's misbehaving HTTP/2 server started with the same `--test_case`
 * (`spec/interop/negative-http2-server.py`), so `all` does not run them.
 */
export const NEGATIVE_HTTP2_CASES = ['rst_after_header', 'rst_after_data', 'rst_during_data', 'goaway', 'ping', 'max_streams'] as const;

/** The name of a negative HTTP/2 test case. */
export type NegativeHttp2Case = (typeof NEGATIVE_HTTP2_CASES)[number];

/** Any case `runTestCase` runs. */
export type InteropCase = TestCase | NegativeHttp2Case;

/** A case did not see what its description asserts; the message says what differed. */
export class CaseFailure extends Error {
  override name = 'CaseFailure';
}

interface Payload {
  body?: Uint8Array;
}
interface SimpleResponse {
  payload?: Payload;
}
interface StreamingOutputCallResponse {
  payload?: Payload;
}
type Msg = Record<string, unknown>;

interface TestServiceClient {
  emptyCall: { (r: Msg, o?: CallOptions): Promise<Msg> };
  unaryCall: { (r: Msg, o?: CallOptions): Promise<SimpleResponse>; withCall(r: Msg, o?: CallOptions): Promise<CallResult<SimpleResponse>> };
  streamingOutputCall: (r: Msg, o?: CallOptions) => StreamingCall<StreamingOutputCallResponse>;
  streamingInputCall: (r: Iterable<Msg> | AsyncIterable<Msg>, o?: CallOptions) => Promise<{ aggregatedPayloadSize?: number }>;
  fullDuplexCall: (r: Iterable<Msg> | AsyncIterable<Msg>, o?: CallOptions) => StreamingCall<StreamingOutputCallResponse>;
  unimplementedCall: (r: Msg, o?: CallOptions) => Promise<Msg>;
}

/** Where the client connects, as the interop command line says. */
export interface InteropClientOptions {
  readonly serverHost: string;
  readonly serverPort: number;
  /** The name claimed in TLS and `:authority` (e.g. foo.test.google.fr). */
  readonly serverHostOverride?: string | undefined;
  readonly useTls?: boolean;
  /** Trust the interop test CA instead of the system's roots. */
  readonly useTestCa?: boolean;
}

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
const zeros = (n: number): Msg => ({ body: Buffer.alloc(n) });

function check(ok: boolean, what: string): void {
  if (!ok) throw new CaseFailure(what);
}

function checkBody(payload: Payload | undefined, size: number, what: string): void {
  const body = payload?.body ?? new Uint8Array(0);
  check(body.length === size, `${what}: payload body is ${body.length} bytes, expected ${size}`);
  check(body.every((b) => b === 0), `${what}: payload body is not all zeros`);
}

/** Runs `call` and returns the RpcError it must fail with. */
async function expectError(call: () => Promise<unknown>, code: StatusCode, what: string): Promise<RpcError> {
  try {
    await call();
  } catch (err) {
    if (!(err instanceof RpcError)) throw new CaseFailure(`${what}: failed with ${String(err)}, expected status ${statusCodeName(code)}`);
    check(err.code === code, `${what}: status ${statusCodeName(err.code)} (${err.details}), expected ${statusCodeName(code)}`);
    return err;
  }
  throw new CaseFailure(`${what}: succeeded, expected status ${statusCodeName(code)}`);
}

/** Awaits a call that must succeed; a failure names the step. */
async function expectOk<T>(what: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof RpcError) throw new CaseFailure(`${what}: failed with ${statusCodeName(err.code)}: ${err.details}`);
    throw err;
  }
}

async function collect<T>(call: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const m of call) all.push(m);
  return all;
}

const SPECIAL_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n';

const cases: Record<TestCase, (c: TestServiceClient) => Promise<void>> = {
  async empty_unary(c) {
    const response = await c.emptyCall({});
    check(response !== null && typeof response === 'object', 'response is null');
  },

  async large_unary(c) {
    const response = await c.unaryCall({ responseSize: 314159, payload: zeros(271828) });
    checkBody(response.payload, 314159, 'response');
  },

  async client_compressed_unary(c) {
    const request = { expectCompressed: { value: true }, responseSize: 314159, payload: zeros(271828) };
    await expectError(() => c.unaryCall(request), StatusCode.INVALID_ARGUMENT, 'probe (uncompressed request expecting compression)');
    checkBody((await expectOk('compressed request', c.unaryCall(request, { compression: Compression.Gzip }))).payload, 314159, 'compressed request');
    checkBody((await expectOk('uncompressed request', c.unaryCall({ ...request, expectCompressed: { value: false } }))).payload, 314159, 'uncompressed request');
  },

  async server_compressed_unary(c) {
    for (const compressed of [true, false]) {
      const result = await c.unaryCall.withCall({ responseCompressed: { value: compressed }, responseSize: 314159, payload: zeros(271828) });
      check(result.responseCompressed === compressed, `response_compressed ${compressed}: the response's compressed flag is ${result.responseCompressed}`);
      checkBody(result.response.payload, 314159, `response_compressed ${compressed}`);
    }
  },

  async client_streaming(c) {
    const sizes = [27182, 8, 1828, 45904];
    const response = await c.streamingInputCall(sizes.map((n) => ({ payload: zeros(n) })));
    check(response.aggregatedPayloadSize === 74922, `aggregated_payload_size is ${response.aggregatedPayloadSize}, expected 74922`);
  },

  async client_compressed_streaming(c) {
    const probe = { expectCompressed: { value: true }, payload: zeros(27182) };
    await expectError(() => c.streamingInputCall([probe]), StatusCode.INVALID_ARGUMENT, 'probe (uncompressed message expecting compression)');
    const second = uncompressed({ expectCompressed: { value: false }, payload: zeros(45904) });
    const response = await expectOk('compressed then uncompressed message', c.streamingInputCall([probe, second], { compression: Compression.Gzip }));
    check(response.aggregatedPayloadSize === 73086, `aggregated_payload_size is ${response.aggregatedPayloadSize}, expected 73086`);
  },

  async server_streaming(c) {
    const sizes = [31415, 9, 2653, 58979];
    const responses = await collect(c.streamingOutputCall({ responseParameters: sizes.map((size) => ({ size })) }));
    check(responses.length === 4, `${responses.length} responses, expected 4`);
    responses.forEach((r, i) => checkBody(r.payload, sizes[i]!, `response ${i + 1}`));
  },

  async server_compressed_streaming(c) {
    const parameters = [
      { compressed: { value: true }, size: 31415 },
      { compressed: { value: false }, size: 92653 },
    ];
    const call = c.streamingOutputCall({ responseParameters: parameters });
    let i = 0;
    for await (const r of call) {
      const p = parameters[i];
      check(p !== undefined, `more than ${parameters.length} responses`);
      check(call.responseCompressed() === p!.compressed.value, `response ${i + 1}: compressed flag is ${call.responseCompressed()}, expected ${p!.compressed.value}`);
      checkBody(r.payload, p!.size, `response ${i + 1}`);
      i++;
    }
    check(i === 2, `${i} responses, expected 2`);
  },

  async ping_pong(c) {
    const requestSizes = [27182, 8, 1828, 45904];
    const responseSizes = [31415, 9, 2653, 58979];
    const requests = pushable<Msg>({ objectMode: true });
    const call = c.fullDuplexCall(requests);
    const responses = call[Symbol.asyncIterator]();
    for (let i = 0; i < 4; i++) {
      requests.push({ responseParameters: [{ size: responseSizes[i] }], payload: zeros(requestSizes[i]!) });
      const r = await responses.next();
      check(r.done !== true, `the stream ended after ${i} responses, expected 4`);
      checkBody(r.value!.payload, responseSizes[i]!, `response ${i + 1}`);
    }
    requests.end();
    check((await responses.next()).done === true, 'more than 4 responses');
  },

  async empty_stream(c) {
    const responses = await collect(c.fullDuplexCall([]));
    check(responses.length === 0, `${responses.length} responses, expected none`);
  },

  async cancel_after_begin(c) {
    const controller = new AbortController();
    const never = (async function* (): AsyncGenerator<Msg> {
      await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
    })();
    const call = c.streamingInputCall(never, { signal: controller.signal });
    setImmediate(() => controller.abort());
    await expectError(() => call, StatusCode.CANCELLED, 'cancelled call');
  },

  async cancel_after_first_response(c) {
    const requests = pushable<Msg>({ objectMode: true });
    const call = c.fullDuplexCall(requests);
    requests.push({ responseParameters: [{ size: 31415 }], payload: zeros(27182) });
    const first = await call[Symbol.asyncIterator]().next();
    check(first.done !== true, 'no response before the cancel');
    call.cancel();
    requests.end();
    const code = await call.code();
    check(code === StatusCode.CANCELLED, `status ${statusCodeName(code)}, expected CANCELLED`);
  },

  async timeout_on_sleeping_server(c) {
    const requests = pushable<Msg>({ objectMode: true });
    requests.push({ payload: zeros(27182) });
    try {
      await expectError(() => collect(c.fullDuplexCall(requests, { timeout: 0.001 })), StatusCode.DEADLINE_EXCEEDED, 'call with a 1 ms deadline');
    } finally {
      requests.end();
    }
  },

  async custom_metadata(c) {
    const trailing = Buffer.from([0xab, 0xab, 0xab]);
    const metadata: Array<[string, string | Buffer]> = [
      [ECHO_INITIAL, 'test_initial_metadata_value'],
      [ECHO_TRAILING, trailing],
    ];
    const checkEcho = (initial: unknown, trailer: unknown, what: string): void => {
      check(initial === 'test_initial_metadata_value', `${what}: initial metadata ${ECHO_INITIAL} is ${JSON.stringify(initial)}`);
      check(trailer instanceof Uint8Array && isDeepStrictEqual(Buffer.from(trailer), trailing), `${what}: trailing metadata ${ECHO_TRAILING} is ${String(trailer)}, expected 0xababab`);
    };
    const unary = await c.unaryCall.withCall({ responseSize: 314159, payload: zeros(271828) }, { metadata });
    checkEcho(unary.initialMetadata.get(ECHO_INITIAL), unary.trailingMetadata.get(ECHO_TRAILING), 'UnaryCall');
    checkBody(unary.response.payload, 314159, 'UnaryCall response');
    const call = c.fullDuplexCall([{ responseParameters: [{ size: 314159 }], payload: zeros(271828) }], { metadata });
    const responses = await collect(call);
    check(responses.length === 1, `FullDuplexCall: ${responses.length} responses, expected 1`);
    checkEcho((await call.initialMetadata()).get(ECHO_INITIAL), (await call.trailingMetadata()).get(ECHO_TRAILING), 'FullDuplexCall');
  },

  async status_code_and_message(c) {
    const responseStatus = { code: 2, message: 'test status message' };
    const unary = await expectError(() => c.unaryCall({ responseStatus }), StatusCode.UNKNOWN, 'UnaryCall');
    check(unary.details === responseStatus.message, `UnaryCall: status message ${JSON.stringify(unary.details)}, expected ${JSON.stringify(responseStatus.message)}`);
    const duplex = await expectError(() => collect(c.fullDuplexCall([{ responseStatus }])), StatusCode.UNKNOWN, 'FullDuplexCall');
    check(duplex.details === responseStatus.message, `FullDuplexCall: status message ${JSON.stringify(duplex.details)}, expected ${JSON.stringify(responseStatus.message)}`);
  },

  async special_status_message(c) {
    const err = await expectError(() => c.unaryCall({ responseStatus: { code: 2, message: SPECIAL_MESSAGE } }), StatusCode.UNKNOWN, 'UnaryCall');
    check(err.details === SPECIAL_MESSAGE, `status message ${JSON.stringify(err.details)}, expected ${JSON.stringify(SPECIAL_MESSAGE)}`);
  },

  async unimplemented_method(c) {
    await expectError(() => c.unimplementedCall({}), StatusCode.UNIMPLEMENTED, 'TestService/UnimplementedCall');
  },

  // Runs on a client of UnimplementedService (see runTestCase).
  async unimplemented_service(c) {
    await expectError(() => c.unimplementedCall({}), StatusCode.UNIMPLEMENTED, 'UnimplementedService/UnimplementedCall');
  },
};

// Every negative case sends this request. The descriptions say the response body is 1024 bytes,
// but the reference server (grpc/grpc test/http2_test/) answers with response_size bytes.
const NEGATIVE_REQUEST = { responseSize: 314159, payload: zeros(271828) };
const NEGATIVE_RESPONSE_SIZE = 314159;
// A deadline on each call, so a client that hangs fails the case with the reason instead of
// hanging the run; the misbehaving server answers at once.
const NEGATIVE_CALL_OPTIONS: CallOptions = { timeout: 10 };

// RST_STREAM(NO_ERROR) before the trailers is INTERNAL (PROTOCOL-HTTP2.md, "Errors"): an OK
// status should have been sent. The descriptions only ask that the call fail; INTERNAL also
// tells a reset apart from a hang that ended at the deadline.
async function expectResetFails(c: TestServiceClient): Promise<void> {
  await expectError(() => c.unaryCall(NEGATIVE_REQUEST, NEGATIVE_CALL_OPTIONS), StatusCode.INTERNAL, 'UnaryCall reset with RST_STREAM(NO_ERROR)');
}

async function expectLargeResponse(c: TestServiceClient, what: string): Promise<void> {
  const response = await expectOk(what, c.unaryCall(NEGATIVE_REQUEST, NEGATIVE_CALL_OPTIONS));
  checkBody(response.payload, NEGATIVE_RESPONSE_SIZE, what);
}

const negativeCases: Record<NegativeHttp2Case, (c: TestServiceClient) => Promise<void>> = {
  // The server resets the stream right after the response headers.
  rst_after_header: expectResetFails,
  // The server resets the stream after the whole response message, before any trailers.
  rst_after_data: expectResetFails,
  // The server resets the stream halfway through the response message.
  rst_during_data: expectResetFails,

  // The server sends GOAWAY after answering the first call; the second must go out on a new
  // connection without the application doing anything.
  async goaway(c) {
    await expectLargeResponse(c, 'first UnaryCall');
    await expectLargeResponse(c, 'second UnaryCall (after GOAWAY)');
  },

  // The server sends PINGs around its headers and data; the server checks they were all acked.
  async ping(c) {
    await expectLargeResponse(c, 'UnaryCall');
  },

  // The server allows one stream at a time (SETTINGS_MAX_CONCURRENT_STREAMS = 1); the first
  // call lets the client see that setting, then ten at once must all succeed.
  async max_streams(c) {
    await expectLargeResponse(c, 'first UnaryCall');
    await Promise.all(Array.from({ length: 10 }, (_, i) => expectLargeResponse(c, `concurrent UnaryCall ${i + 1} of 10`)));
  },
};

/** Opens the channel the command line describes. */
export function openChannel(options: InteropClientOptions): Channel {
  const host = options.serverHost.includes(':') ? `[${options.serverHost}]` : options.serverHost;
  const target = `${host}:${options.serverPort}`;
  const channelOptions = options.serverHostOverride === undefined ? {} : { 'grpc.ssl_target_name_override': options.serverHostOverride, 'grpc.default_authority': options.serverHostOverride };
  if (options.useTls !== true) return insecureChannel(target, channelOptions);
  return secureChannel(target, sslChannelCredentials(options.useTestCa === true ? testCertificates().ca : null), channelOptions);
}

function isNegativeHttp2Case(name: string): name is NegativeHttp2Case {
  return (NEGATIVE_HTTP2_CASES as readonly string[]).includes(name);
}

/**
 * Runs one case against the server.
 * @throws CaseFailure (or the call's error) when the case does not pass
 */
export async function runTestCase(testCase: InteropCase, options: InteropClientOptions): Promise<void> {
  const { TestService, UnimplementedService } = loadTestProtos();
  const channel = openChannel(options);
  try {
    const definition = testCase === 'unimplemented_service' ? UnimplementedService : TestService;
    const run = isNegativeHttp2Case(testCase) ? negativeCases[testCase] : cases[testCase];
    await run(createClient(definition, channel) as unknown as TestServiceClient);
  } finally {
    channel.close();
  }
}

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), {
    server_host: 'string',
    server_port: 'int',
    server_host_override: 'string',
    use_tls: 'bool',
    use_test_ca: 'bool',
    test_case: 'string',
  });
  if (flags.server_port === undefined) throw new UsageError('--server_port is required');
  const testCase = (flags.test_case as string | undefined) ?? 'large_unary';
  const selected = testCase === 'all' ? [...TEST_CASES] : [testCase];
  for (const name of selected) {
    if (!(TEST_CASES as readonly string[]).includes(name) && !isNegativeHttp2Case(name)) {
      throw new UsageError(`Unknown --test_case "${name}"; known: all, ${TEST_CASES.join(', ')}, and against the negative HTTP/2 server ${NEGATIVE_HTTP2_CASES.join(', ')}`);
    }
  }
  const options: InteropClientOptions = {
    serverHost: (flags.server_host as string | undefined) ?? 'localhost',
    serverPort: flags.server_port as number,
    serverHostOverride: flags.server_host_override as string | undefined,
    useTls: flags.use_tls === true,
    useTestCa: flags.use_test_ca === true,
  };
  let failed = 0;
  for (const name of selected) {
    try {
      await runTestCase(name as InteropCase, options);
      console.log(`${name}: passed`);
    } catch (err) {
      failed++;
      console.error(`${name}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err instanceof UsageError ? `usage: ${err.message}` : err);
      process.exitCode = 2;
    },
  );
}
