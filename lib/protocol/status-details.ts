import { ProtoWriter, readFields, readString, WireType, type ProtoField } from './protobuf-wire.js';

/**
 * `google.protobuf.Any`: a serialized message and the URL naming its type
 * (`type.googleapis.com/<full name>`).
 */
export interface Any {
  /** `type.googleapis.com/` and the message's full name, e.g. `type.googleapis.com/google.rpc.BadRequest`. */
  readonly typeUrl: string;
  /** The serialized message. */
  readonly value: Uint8Array;
}

/** A protobufjs-style writer, what the `encode` of `grpc-iter gen`'s messages returns. */
export interface MessageWriter {
  /** @returns the bytes written */
  finish(): Uint8Array;
}

/**
 * What it takes to pack and unpack one message type as an error detail: its full name, an
 * encoder and a decoder. A `loadProto` message type and a message of `grpc-iter gen`'s output
 * both fit as they are, as do the standard details exported here ({@link BadRequest}, ...).
 */
export interface DetailType<T> {
  /** The message's full name, e.g. `google.rpc.BadRequest`. */
  readonly fullName: string;
  /** Serializes a value (a protobufjs-style writer with `finish()` is accepted too). */
  encode(value: T): Uint8Array | MessageWriter;
  /** Parses serialized bytes. */
  decode(bytes: Uint8Array): T;
}

/** `google.rpc.Status` (googleapis `google/rpc/status.proto`), the value of `grpc-status-details-bin`. */
export interface RpcStatus {
  /** The status code (a `google.rpc.Code`, the same numbers as gRPC's). */
  readonly code: number;
  /** The status message. */
  readonly message: string;
  /** The details, each packed in an Any. */
  readonly details: readonly Any[];
}

/** The URL prefix of packed types (any.proto). */
export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/**
 * The full type name an Any's URL names: the part after the last `/` (any.proto).
 * @param typeUrl - the Any's `type_url`
 * @returns the type's full name
 */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

/**
 * Packs a message into an Any, as grpcio's `Any.Pack` does.
 * @param type - the message's type (a standard detail, a `loadProto` type or a generated message)
 * @param value - the message
 * @returns the Any with a `type.googleapis.com/` URL
 * @example
 * ```ts
 * throw new RpcError(StatusCode.INVALID_ARGUMENT, 'Cannot create user: bad fields', {
 *   errorDetails: [packDetail(BadRequest, { fieldViolations: [{ field: 'email', description: 'empty' }] })],
 * });
 * ```
 */
export function packDetail<T>(type: DetailType<T>, value: T): Any {
  const encoded = type.encode(value);
  return { typeUrl: TYPE_URL_PREFIX + type.fullName, value: encoded instanceof Uint8Array ? encoded : encoded.finish() };
}

/**
 * Unpacks an Any when it holds `type`.
 * @param any - the packed message
 * @param type - the type expected
 * @returns the message, or undefined when the Any holds another type
 * @throws Error when the bytes do not parse as `type`
 */
export function unpackDetail<T>(any: Any, type: DetailType<T>): T | undefined {
  return typeNameOf(any.typeUrl) === type.fullName ? type.decode(any.value) : undefined;
}

/**
 * Serializes a `google.rpc.Status`.
 * @param status - the status
 * @returns its protobuf bytes
 */
export function encodeRpcStatus(status: RpcStatus): Uint8Array {
  const w = new ProtoWriter().int(1, status.code).string(2, status.message);
  for (const any of status.details) w.message(3, encodeAny(any));
  return w.finish();
}

/**
 * Parses a `google.rpc.Status`.
 * @param bytes - its protobuf bytes
 * @returns the status
 * @throws Error when the bytes are not a valid Status
 */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  let code = 0;
  let message = '';
  const details: Any[] = [];
  for (const f of readFields(bytes)) {
    if (f.field === 1 && f.wireType === WireType.VARINT) code = f.int | 0;
    else if (f.field === 2 && f.wireType === WireType.LEN) message = readString(f.bytes);
    else if (f.field === 3 && f.wireType === WireType.LEN) details.push(decodeAny(f.bytes));
  }
  return { code, message, details };
}

function encodeAny(any: Any): Uint8Array {
  return new ProtoWriter().string(1, any.typeUrl).bytes(2, any.value).finish();
}

function decodeAny(bytes: Uint8Array): Any {
  let typeUrl = '';
  let value = new Uint8Array(0);
  for (const f of readFields(bytes)) {
    if (f.field === 1 && f.wireType === WireType.LEN) typeUrl = readString(f.bytes);
    // Copied into a plain Uint8Array, so a kept detail does not pin the whole trailer buffer
    // (Buffer's own slice() would return a view of it).
    else if (f.field === 2 && f.wireType === WireType.LEN) value = new Uint8Array(f.bytes);
  }
  return { typeUrl, value };
}

// --- The standard details of googleapis google/rpc/error_details.proto, field numbers as there.

type Reader<T> = (fields: ProtoField[]) => T;

function detailType<T>(fullName: string, write: (w: ProtoWriter, value: T) => void, read: Reader<T>): DetailType<T> {
  return {
    fullName,
    encode(value: T): Uint8Array {
      const w = new ProtoWriter();
      write(w, value);
      return w.finish();
    },
    decode(bytes: Uint8Array): T {
      return read(readFields(bytes));
    },
  };
}

const str = (f: ProtoField): string | undefined => (f.wireType === WireType.LEN ? readString(f.bytes) : undefined);
const int = (f: ProtoField): number | undefined => (f.wireType === WireType.VARINT ? f.int : undefined);

function readStrings<K extends string>(fields: ProtoField[], names: Record<number, K>): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const name of Object.values<K>(names)) out[name] = '';
  for (const f of fields) {
    const name = names[f.field];
    const value = str(f);
    if (name !== undefined && value !== undefined) out[name] = value;
  }
  return out;
}

function writeStrings<K extends string>(w: ProtoWriter, names: Record<number, K>, value: Partial<Record<K, string>>): void {
  for (const [field, name] of Object.entries<K>(names)) w.string(Number(field), value[name] ?? '');
}

// map<string, string> is a repeated entry message { key = 1; value = 2; } (proto3 maps).
function writeStringMap(w: ProtoWriter, field: number, map: Readonly<Record<string, string>> | undefined): void {
  for (const [key, value] of Object.entries(map ?? {})) w.message(field, new ProtoWriter().string(1, key).string(2, value).finish());
}

function readStringMapEntry(bytes: Uint8Array, into: Record<string, string>): void {
  const entry = readStrings(readFields(bytes), { 1: 'key', 2: 'value' });
  into[entry.key] = entry.value;
}

/** `google.protobuf.Duration`, as a number of seconds and nanoseconds. */
export interface Duration {
  /** Whole seconds. */
  readonly seconds: number;
  /** Nanoseconds, 0 to 999,999,999 (negative for a negative duration). */
  readonly nanos: number;
}

function encodeDuration(d: Duration): Uint8Array {
  return new ProtoWriter().int(1, d.seconds).int(2, d.nanos).finish();
}

function decodeDuration(bytes: Uint8Array): Duration {
  let seconds = 0;
  let nanos = 0;
  for (const f of readFields(bytes)) {
    if (f.field === 1) seconds = int(f) ?? seconds;
    else if (f.field === 2) nanos = (int(f) ?? nanos) | 0;
  }
  return { seconds, nanos };
}

/** `google.rpc.ErrorInfo`: why the error happened, as a machine-readable reason in a domain. */
export interface ErrorInfo {
  /** The reason, e.g. `API_DISABLED` (UPPER_SNAKE_CASE, unique within the domain). */
  readonly reason: string;
  /** The logical grouping of the reason, e.g. `pubsub.googleapis.com`. */
  readonly domain: string;
  /** More structured facts about the error. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Packs and unpacks `google.rpc.ErrorInfo`. */
export const ErrorInfo: DetailType<ErrorInfo> = detailType<ErrorInfo>(
  'google.rpc.ErrorInfo',
  (w, v) => {
    w.string(1, v.reason).string(2, v.domain);
    writeStringMap(w, 3, v.metadata);
  },
  (fields) => {
    const metadata: Record<string, string> = {};
    for (const f of fields) if (f.field === 3 && f.wireType === WireType.LEN) readStringMapEntry(f.bytes, metadata);
    return { ...readStrings(fields, { 1: 'reason', 2: 'domain' }), metadata };
  },
);

/** `google.rpc.RetryInfo`: how long the client should wait before retrying the same request. */
export interface RetryInfo {
  /** The wait; undefined when the server sent none. */
  readonly retryDelay: Duration | undefined;
}

/** Packs and unpacks `google.rpc.RetryInfo`. */
export const RetryInfo: DetailType<RetryInfo> = detailType<RetryInfo>(
  'google.rpc.RetryInfo',
  (w, v) => {
    if (v.retryDelay !== undefined) w.message(1, encodeDuration(v.retryDelay));
  },
  (fields) => {
    let retryDelay: Duration | undefined;
    for (const f of fields) if (f.field === 1 && f.wireType === WireType.LEN) retryDelay = decodeDuration(f.bytes);
    return { retryDelay };
  },
);

/** `google.rpc.DebugInfo`: debugging facts from the server (send only to trusted clients). */
export interface DebugInfo {
  /** Stack trace entries. */
  readonly stackEntries: readonly string[];
  /** Any other debugging text. */
  readonly detail: string;
}

/** Packs and unpacks `google.rpc.DebugInfo`. */
export const DebugInfo: DetailType<DebugInfo> = detailType<DebugInfo>(
  'google.rpc.DebugInfo',
  (w, v) => {
    for (const entry of v.stackEntries) w.bytes(1, new TextEncoder().encode(entry), true);
    w.string(2, v.detail);
  },
  (fields) => {
    const stackEntries: string[] = [];
    let detail = '';
    for (const f of fields) {
      if (f.field === 1) stackEntries.push(str(f) ?? '');
      else if (f.field === 2) detail = str(f) ?? detail;
    }
    return { stackEntries, detail };
  },
);

/** One violation of a {@link QuotaFailure}. */
export interface QuotaViolation {
  /** The subject whose quota check failed, e.g. `clientip:1.2.3.4`. */
  readonly subject: string;
  /** How the check failed. */
  readonly description: string;
  /** The API service the quota belongs to (newer field; empty when not sent). */
  readonly apiService?: string;
  /** The metric of the violated quota. */
  readonly quotaMetric?: string;
  /** The id of the violated quota. */
  readonly quotaId?: string;
  /** The dimensions of the violated quota. */
  readonly quotaDimensions?: Readonly<Record<string, string>>;
  /** The enforced quota value. */
  readonly quotaValue?: number;
  /** A quota value about to be enforced, when one is rolling out. */
  readonly futureQuotaValue?: number;
}

/** `google.rpc.QuotaFailure`: which quota checks failed. */
export interface QuotaFailure {
  /** The violations. */
  readonly violations: readonly QuotaViolation[];
}

const QUOTA_STRINGS = { 1: 'subject', 2: 'description', 3: 'apiService', 4: 'quotaMetric', 5: 'quotaId' } as const;

/** Packs and unpacks `google.rpc.QuotaFailure`. */
export const QuotaFailure: DetailType<QuotaFailure> = detailType<QuotaFailure>(
  'google.rpc.QuotaFailure',
  (w, v) => {
    for (const violation of v.violations) {
      const vw = new ProtoWriter();
      writeStrings(vw, QUOTA_STRINGS, violation);
      writeStringMap(vw, 6, violation.quotaDimensions);
      vw.int(7, violation.quotaValue ?? 0);
      // future_quota_value is `optional`: present even when zero.
      if (violation.futureQuotaValue !== undefined) vw.int(8, violation.futureQuotaValue, true);
      w.message(1, vw.finish());
    }
  },
  (fields) => {
    const violations: QuotaViolation[] = [];
    for (const f of fields) {
      if (f.field !== 1 || f.wireType !== WireType.LEN) continue;
      const inner = readFields(f.bytes);
      const quotaDimensions: Record<string, string> = {};
      let quotaValue = 0;
      let futureQuotaValue: number | undefined;
      for (const g of inner) {
        if (g.field === 6 && g.wireType === WireType.LEN) readStringMapEntry(g.bytes, quotaDimensions);
        else if (g.field === 7) quotaValue = int(g) ?? quotaValue;
        else if (g.field === 8) futureQuotaValue = int(g) ?? futureQuotaValue;
      }
      violations.push({ ...readStrings(inner, QUOTA_STRINGS), quotaDimensions, quotaValue, ...(futureQuotaValue === undefined ? {} : { futureQuotaValue }) });
    }
    return { violations };
  },
);

/** One violation of a {@link PreconditionFailure}. */
export interface PreconditionViolation {
  /** The kind of precondition, e.g. `TOS`. */
  readonly type: string;
  /** What failed, relative to the type. */
  readonly subject: string;
  /** How it failed. */
  readonly description: string;
}

/** `google.rpc.PreconditionFailure`: which preconditions of the request failed. */
export interface PreconditionFailure {
  /** The violations. */
  readonly violations: readonly PreconditionViolation[];
}

const PRECONDITION_STRINGS = { 1: 'type', 2: 'subject', 3: 'description' } as const;

/** Packs and unpacks `google.rpc.PreconditionFailure`. */
export const PreconditionFailure: DetailType<PreconditionFailure> = detailType<PreconditionFailure>(
  'google.rpc.PreconditionFailure',
  (w, v) => {
    for (const violation of v.violations) {
      const vw = new ProtoWriter();
      writeStrings(vw, PRECONDITION_STRINGS, violation);
      w.message(1, vw.finish());
    }
  },
  (fields) => ({ violations: repeated(fields, 1, (inner) => readStrings(inner, PRECONDITION_STRINGS)) }),
);

function repeated<T>(fields: ProtoField[], field: number, read: Reader<T>): T[] {
  const out: T[] = [];
  for (const f of fields) if (f.field === field && f.wireType === WireType.LEN) out.push(read(readFields(f.bytes)));
  return out;
}

/** `google.rpc.LocalizedMessage`: an error message safe to show the user, in a locale. */
export interface LocalizedMessage {
  /** A BCP 47 locale, e.g. `en-US`. */
  readonly locale: string;
  /** The message in that locale. */
  readonly message: string;
}

const LOCALIZED_STRINGS = { 1: 'locale', 2: 'message' } as const;

/** Packs and unpacks `google.rpc.LocalizedMessage`. */
export const LocalizedMessage: DetailType<LocalizedMessage> = detailType<LocalizedMessage>(
  'google.rpc.LocalizedMessage',
  (w, v) => writeStrings(w, LOCALIZED_STRINGS, v),
  (fields) => readStrings(fields, LOCALIZED_STRINGS),
);

/** One bad field of a {@link BadRequest}. */
export interface FieldViolation {
  /** The path of the field, e.g. `user.email` or `items[2].count`. */
  readonly field: string;
  /** Why it is bad. */
  readonly description: string;
  /** A machine-readable reason (newer field; empty when not sent). */
  readonly reason?: string;
  /** A message about the field safe to show the user. */
  readonly localizedMessage?: LocalizedMessage;
}

/** `google.rpc.BadRequest`: which fields of the request are invalid, and why. */
export interface BadRequest {
  /** The bad fields. */
  readonly fieldViolations: readonly FieldViolation[];
}

const FIELD_VIOLATION_STRINGS = { 1: 'field', 2: 'description', 3: 'reason' } as const;

/** Packs and unpacks `google.rpc.BadRequest`. */
export const BadRequest: DetailType<BadRequest> = detailType<BadRequest>(
  'google.rpc.BadRequest',
  (w, v) => {
    for (const violation of v.fieldViolations) {
      const vw = new ProtoWriter();
      writeStrings(vw, FIELD_VIOLATION_STRINGS, violation);
      if (violation.localizedMessage !== undefined) vw.message(4, LocalizedMessage.encode(violation.localizedMessage) as Uint8Array);
      w.message(1, vw.finish());
    }
  },
  (fields) => ({
    fieldViolations: repeated(fields, 1, (inner) => {
      let localizedMessage: LocalizedMessage | undefined;
      for (const g of inner) if (g.field === 4 && g.wireType === WireType.LEN) localizedMessage = LocalizedMessage.decode(g.bytes);
      return { ...readStrings(inner, FIELD_VIOLATION_STRINGS), ...(localizedMessage === undefined ? {} : { localizedMessage }) };
    }),
  }),
);

/** `google.rpc.RequestInfo`: which request failed, for bug reports. */
export interface RequestInfo {
  /** An opaque id the server can find in its logs. */
  readonly requestId: string;
  /** Any data used to serve the request, e.g. an encrypted stack trace. */
  readonly servingData: string;
}

const REQUEST_INFO_STRINGS = { 1: 'requestId', 2: 'servingData' } as const;

/** Packs and unpacks `google.rpc.RequestInfo`. */
export const RequestInfo: DetailType<RequestInfo> = detailType<RequestInfo>(
  'google.rpc.RequestInfo',
  (w, v) => writeStrings(w, REQUEST_INFO_STRINGS, v),
  (fields) => readStrings(fields, REQUEST_INFO_STRINGS),
);

/** `google.rpc.ResourceInfo`: the resource the request was about. */
export interface ResourceInfo {
  /** The kind of resource, e.g. `sql table` or a type URL. */
  readonly resourceType: string;
  /** Its name. */
  readonly resourceName: string;
  /** Its owner, e.g. `user:ada@example.com`. */
  readonly owner: string;
  /** What went wrong with it. */
  readonly description: string;
}

const RESOURCE_INFO_STRINGS = { 1: 'resourceType', 2: 'resourceName', 3: 'owner', 4: 'description' } as const;

/** Packs and unpacks `google.rpc.ResourceInfo`. */
export const ResourceInfo: DetailType<ResourceInfo> = detailType<ResourceInfo>(
  'google.rpc.ResourceInfo',
  (w, v) => writeStrings(w, RESOURCE_INFO_STRINGS, v),
  (fields) => readStrings(fields, RESOURCE_INFO_STRINGS),
);

/** One link of a {@link Help}. */
export interface HelpLink {
  /** What the link offers. */
  readonly description: string;
  /** The URL. */
  readonly url: string;
}

/** `google.rpc.Help`: links to documentation or to a place that fixes the problem. */
export interface Help {
  /** The links. */
  readonly links: readonly HelpLink[];
}

const LINK_STRINGS = { 1: 'description', 2: 'url' } as const;

/** Packs and unpacks `google.rpc.Help`. */
export const Help: DetailType<Help> = detailType<Help>(
  'google.rpc.Help',
  (w, v) => {
    for (const link of v.links) {
      const lw = new ProtoWriter();
      writeStrings(lw, LINK_STRINGS, link);
      w.message(1, lw.finish());
    }
  },
  (fields) => ({ links: repeated(fields, 1, (inner) => readStrings(inner, LINK_STRINGS)) }),
);

/** A detail of one of the standard `google.rpc` types, decoded. */
export interface KnownErrorDetail<N extends string, T> {
  /** The type's full name, e.g. `google.rpc.BadRequest`. */
  readonly typeName: N;
  /** The decoded message. */
  readonly value: T;
  /** The detail as it arrived. */
  readonly any: Any;
}

/** A detail of a type that is not built in: read it with `findDetails(err, Type)`. */
export interface UnknownErrorDetail {
  /** The type's full name, from the Any's URL. */
  readonly typeName: string;
  /** Always undefined: the type is not known here. */
  readonly value: undefined;
  /** The detail as it arrived. */
  readonly any: Any;
}

/**
 * One detail of an error as the client decoded it. The standard `google.rpc` details come
 * decoded (`value` set, `typeName` narrows it); any other type has `value: undefined` and is
 * read with `findDetails(err, Type)` or from `any`.
 * @example
 * ```ts
 * for (const detail of err.errorDetails) {
 *   if (detail.value !== undefined && detail.typeName === 'google.rpc.BadRequest') console.log(detail.value.fieldViolations);
 * }
 * ```
 */
export type ErrorDetail =
  | KnownErrorDetail<'google.rpc.ErrorInfo', ErrorInfo>
  | KnownErrorDetail<'google.rpc.RetryInfo', RetryInfo>
  | KnownErrorDetail<'google.rpc.DebugInfo', DebugInfo>
  | KnownErrorDetail<'google.rpc.QuotaFailure', QuotaFailure>
  | KnownErrorDetail<'google.rpc.PreconditionFailure', PreconditionFailure>
  | KnownErrorDetail<'google.rpc.BadRequest', BadRequest>
  | KnownErrorDetail<'google.rpc.RequestInfo', RequestInfo>
  | KnownErrorDetail<'google.rpc.ResourceInfo', ResourceInfo>
  | KnownErrorDetail<'google.rpc.Help', Help>
  | KnownErrorDetail<'google.rpc.LocalizedMessage', LocalizedMessage>
  | UnknownErrorDetail;

/** The standard detail types, by full name. */
export const STANDARD_DETAIL_TYPES: ReadonlyMap<string, DetailType<unknown>> = new Map<string, DetailType<unknown>>(
  [ErrorInfo, RetryInfo, DebugInfo, QuotaFailure, PreconditionFailure, BadRequest, RequestInfo, ResourceInfo, Help, LocalizedMessage].map(
    (type) => [type.fullName, type as DetailType<unknown>],
  ),
);

/**
 * Decodes each Any: a standard detail into its value; any other type, or a standard one
 * whose bytes do not parse, stays raw (`value: undefined`).
 * @param details - the Status's details
 * @returns one entry per Any, in order
 */
export function decodeErrorDetails(details: readonly Any[]): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const any of details) {
    const typeName = typeNameOf(any.typeUrl);
    const type = STANDARD_DETAIL_TYPES.get(typeName);
    let value: unknown;
    if (type !== undefined) {
      try {
        value = type.decode(any.value);
      } catch {
        value = undefined;
      }
    }
    out.push({ typeName, value, any } as ErrorDetail);
  }
  return out;
}

/**
 * Every detail of `type` an error carries, decoded, in order (connect's `findDetails`, grpcio's
 * `Any.Unpack` over `rpc_status.from_call(call).details`). Details that do not parse as `type`
 * are left out.
 * @param source - an {@link RpcError} (anything with `errorDetails`)
 * @param type - a standard detail ({@link BadRequest}, ...), a `loadProto` message type or a generated message
 * @returns the decoded details; empty when there are none or the status did not match (see `RpcError.errorDetails`)
 * @example
 * ```ts
 * for (const { fieldViolations } of findDetails(err, BadRequest)) {
 *   for (const v of fieldViolations) console.log(`${v.field}: ${v.description}`);
 * }
 * ```
 */
export function findDetails<T>(source: { readonly errorDetails: readonly ErrorDetail[] }, type: DetailType<T>): T[] {
  const out: T[] = [];
  for (const detail of source.errorDetails) {
    if (detail.typeName !== type.fullName) continue;
    try {
      out.push(type.decode(detail.any.value));
    } catch {
      // A detail that does not parse as its declared type is not trusted, as grpcio's Unpack refuses it.
    }
  }
  return out;
}
