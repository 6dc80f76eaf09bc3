import { ValueType, type Attributes, type Histogram, type Meter } from '@opentelemetry/api';
import { StatusCode, statusCodeName } from '../protocol/index.js';

/**
 * Which RPC semantic conventions to emit, from `OTEL_SEMCONV_STABILITY_OPT_IN`
 * (semantic-conventions docs/rpc/README.md, "Existing RPC instrumentations"):
 * - `old`: the experimental conventions of v1.37 and before (the default),
 * - `stable`: `rpc` in the list, the stable conventions only,
 * - `dup`: `rpc/dup` in the list (it wins over `rpc`), both.
 */
export type SemconvStability = 'old' | 'stable' | 'dup';

/**
 * Reads the stability opt-in from a comma-separated `OTEL_SEMCONV_STABILITY_OPT_IN` value.
 * @param value - the variable's value, or undefined when unset
 * @returns which conventions to emit
 * @internal
 */
export function parseStabilityOptIn(value: string | undefined): SemconvStability {
  const list = (value ?? '').split(',').map((s) => s.trim().toLowerCase());
  if (list.includes('rpc/dup')) return 'dup';
  if (list.includes('rpc')) return 'stable';
  return 'old';
}

/** The `rpc.method` of a method the server does not have. */
const OTHER = '_OTHER';

/** The parts of a method path `/package.Service/Method`. @internal */
export interface MethodName {
  /** `package.Service/Method`: the span name (rpc-spans.md, "Name"), and the stable `rpc.method`. */
  readonly full: string;
  /** `package.Service`: the old `rpc.service`. */
  readonly service: string;
  /** `Method`: the old `rpc.method`. */
  readonly method: string;
  /** Whether the server has the method; an unknown one is `_OTHER` where the conventions ask. */
  readonly known: boolean;
}

/** @internal */
export function parseMethod(path: string, known = true): MethodName {
  const full = path.startsWith('/') ? path.slice(1) : path;
  const slash = full.lastIndexOf('/');
  return slash < 0 ? { full, service: '', method: full, known } : { full, service: full.slice(0, slash), method: full.slice(slash + 1), known };
}

/**
 * The span name: `package.Service/Method`; with the stable conventions, `grpc` for a method
 * the server does not have (rpc-spans.md, "Span name": `{rpc.system.name}` when rpc.method
 * is `_OTHER`).
 * @internal
 */
export function spanName(stability: SemconvStability, name: MethodName): string {
  return stability === 'stable' && !name.known ? 'grpc' : name.full;
}

/** A `host:port` / `ipv4:a:p` / `ipv6:[a]:p` address split into its parts. @internal */
export interface Address {
  readonly address: string;
  readonly port: number | undefined;
}

/**
 * Splits a peer (`ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678`, `unix:path`) or a target
 * (`host:port`, `dns:///host:port`) into an address and a port.
 * @internal
 */
export function parseAddress(text: string): Address | undefined {
  let s = text;
  if (s.startsWith('unix:')) return { address: s.slice(5), port: undefined };
  s = s.replace(/^(ipv4|ipv6):/, '').replace(/^dns:(\/\/[^/]*)?\/?/, '');
  if (s === '') return undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket !== null) return { address: bracket[1]!, port: bracket[2] === undefined ? undefined : Number(bracket[2]) };
  const colon = s.lastIndexOf(':');
  if (colon < 0 || s.indexOf(':') !== colon) return { address: s, port: undefined };
  const port = Number(s.slice(colon + 1));
  return { address: s.slice(0, colon), port: Number.isInteger(port) ? port : undefined };
}

/**
 * The codes for which a server span's status is ERROR (semantic-conventions docs/rpc/grpc.md,
 * "gRPC status"): the others are the client's fault, not the server's. Client spans are ERROR
 * for any code but OK.
 * @internal
 */
export const SERVER_ERROR_CODES: ReadonlySet<StatusCode> = new Set([
  StatusCode.UNKNOWN,
  StatusCode.DEADLINE_EXCEEDED,
  StatusCode.UNIMPLEMENTED,
  StatusCode.INTERNAL,
  StatusCode.UNAVAILABLE,
  StatusCode.DATA_LOSS,
]);

/**
 * The attributes of a span: both sets in `dup` mode, where the stable full `rpc.method`
 * replaces the old short one, as the two cannot share one key.
 * @internal
 */
export function spanAttributes(stability: SemconvStability, of: (conventions: 'old' | 'stable') => Attributes): Attributes {
  if (stability === 'old') return of('old');
  if (stability === 'stable') return of('stable');
  return { ...of('old'), ...of('stable') };
}

/**
 * Attributes known when a call starts, for a span or for metrics, in one set of conventions.
 *
 * A method the server does not have is `_OTHER` in the stable `rpc.method`, with the path in
 * `rpc.method_original` on spans (attributes-registry, rpc.method: "MUST be set to `_OTHER`",
 * and tracing "MUST also set rpc.method_original"). The old conventions have no such value:
 * their spans keep the path's names, their metrics say `_OTHER`, as the client picks the path
 * and metric attributes must stay bounded.
 * @internal
 */
export function startAttributes(conventions: 'old' | 'stable', name: MethodName, server: Address | undefined, signal: 'span' | 'metric' = 'span'): Attributes {
  let a: Attributes;
  if (conventions === 'old') {
    const other = !name.known && signal === 'metric';
    a = { 'rpc.system': 'grpc', 'rpc.service': other ? OTHER : name.service, 'rpc.method': other ? OTHER : name.method };
  } else {
    a = { 'rpc.system.name': 'grpc', 'rpc.method': name.known ? name.full : OTHER };
    if (!name.known && signal === 'span') a['rpc.method_original'] = name.full;
  }
  if (server !== undefined) {
    a['server.address'] = server.address;
    if (server.port !== undefined) a['server.port'] = server.port;
  }
  return a;
}

/**
 * Attributes known when a call ends: the status code in the form(s) the conventions ask,
 * and `error.type` (the code's name) when the call failed.
 * @internal
 */
export function endAttributes(conventions: 'old' | 'stable', code: StatusCode, isError: boolean): Attributes {
  // semantic-conventions v1.45: the stable rpc.status_code (it replaced rpc.response.status_code)
  // holds the code's name, e.g. "DEADLINE_EXCEEDED"; the old rpc.grpc.status_code its number.
  const a: Attributes = conventions === 'old' ? { 'rpc.grpc.status_code': code } : { 'rpc.status_code': statusCodeName(code) };
  if (isError) a['error.type'] = statusCodeName(code);
  return a;
}

// rpc-metrics.md: the old durations are in ms (the SDK's default buckets fit them); the
// stable ones in seconds, with the buckets the conventions advise for call durations.
const MS_BUCKETS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const S_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The histograms of one side (server or client). @internal */
export interface Instruments {
  readonly duration: Histogram | undefined;
  readonly callDuration: Histogram | undefined;
  readonly requestSize: Histogram | undefined;
  readonly responseSize: Histogram | undefined;
  readonly requestsPerRpc: Histogram | undefined;
  readonly responsesPerRpc: Histogram | undefined;
}

/** @internal */
export function createInstruments(meter: Meter, side: 'server' | 'client', stability: SemconvStability): Instruments {
  const old = stability !== 'stable';
  const histogram = (name: string, unit: string, description: string, integer: boolean, buckets?: number[]): Histogram =>
    meter.createHistogram(name, {
      unit,
      description,
      ...(integer ? { valueType: ValueType.INT } : {}),
      ...(buckets === undefined ? {} : { advice: { explicitBucketBoundaries: buckets } }),
    });
  const way = side === 'server' ? 'inbound' : 'outbound';
  return {
    duration: old ? histogram(`rpc.${side}.duration`, 'ms', `Measures the duration of ${way} RPC.`, false, MS_BUCKETS) : undefined,
    callDuration:
      stability !== 'old'
        ? histogram(`rpc.${side}.call.duration`, 's', `Measures the duration of an ${side === 'server' ? 'incoming' : 'outgoing'} Remote Procedure Call (RPC).`, false, S_BUCKETS)
        : undefined,
    // The size and count histograms exist only in the old conventions (v1.45 removed them).
    requestSize: old ? histogram(`rpc.${side}.request.size`, 'By', 'Measures the size of RPC request messages (uncompressed).', true) : undefined,
    responseSize: old ? histogram(`rpc.${side}.response.size`, 'By', 'Measures the size of RPC response messages (uncompressed).', true) : undefined,
    requestsPerRpc: old
      ? histogram(`rpc.${side}.requests_per_rpc`, '{count}', side === 'server' ? 'Measures the number of messages received per RPC.' : 'Measures the number of messages sent per RPC.', true)
      : undefined,
    responsesPerRpc: old
      ? histogram(`rpc.${side}.responses_per_rpc`, '{count}', side === 'server' ? 'Measures the number of messages sent per RPC.' : 'Measures the number of messages received per RPC.', true)
      : undefined,
  };
}
