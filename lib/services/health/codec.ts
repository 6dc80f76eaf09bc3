// The messages of grpc/grpc-proto grpc/health/v1/health.proto, encoded by hand: they are small,
// and the health service must not need a .proto file or protobufjs to run.
//
//   message HealthCheckRequest { string service = 1; }
//   message HealthCheckResponse { ServingStatus status = 1; }
//   message HealthListRequest {}
//   message HealthListResponse { map<string, HealthCheckResponse> statuses = 1; }
//
// A map field is on the wire a repeated message `{ string key = 1; HealthCheckResponse value = 2; }`
// (protobuf encoding guide, "Maps").

/** A HealthCheckRequest: which service to report on. */
export interface HealthCheckRequest {
  /** The full service name, or `''` for the whole server. */
  readonly service: string;
}

/** A HealthCheckResponse: the service's status. */
export interface HealthCheckResponse {
  /** The service's status. */
  readonly status: ServingStatus;
}

/** A HealthListResponse: every service the health service knows, with its status. */
export interface HealthListResponse {
  /** Each service's status, by full service name (`''` is the whole server). */
  readonly statuses: ReadonlyMap<string, HealthCheckResponse>;
}

/** A service's health, as `grpc.health.v1.HealthCheckResponse.ServingStatus`. */
export const ServingStatus = {
  /** Not known yet; the watch helper also reports it while a broken watch is re-established. */
  UNKNOWN: 0,
  /** Serving requests. */
  SERVING: 1,
  /** Not serving requests. */
  NOT_SERVING: 2,
  /** Used only by Watch: the service is not registered with the health servicer. */
  SERVICE_UNKNOWN: 3,
} as const;

/** One of the values of {@link ServingStatus}. */
export type ServingStatus = (typeof ServingStatus)[keyof typeof ServingStatus];

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Walks the fields of one message, calling `field` for each length-delimited or varint field it
 * cares about and skipping the rest, as proto3 parsers skip unknown fields.
 */
function readFields(
  bytes: Uint8Array,
  what: string,
  field: (number: number, value: number | Uint8Array) => void,
): void {
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (i >= bytes.length) throw new RangeError(`Cannot decode ${what}: truncated varint`);
      const b = bytes[i++]!;
      if (shift < 28) result |= (b & 0x7f) << shift;
      else result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new RangeError(`Cannot decode ${what}: varint too long`);
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const wire = tag & 7;
    const number = tag >>> 3;
    if (wire === 0) field(number, varint());
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const length = varint();
      if (i + length > bytes.length) throw new RangeError(`Cannot decode ${what}: truncated field`);
      field(number, bytes.subarray(i, i + length));
      i += length;
    } else throw new RangeError(`Cannot decode ${what}: wire type ${wire}`);
  }
  if (i > bytes.length) throw new RangeError(`Cannot decode ${what}: truncated field`);
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return out;
}

/** Decodes a HealthCheckRequest: the service name (field 1), other fields skipped. @internal */
export function decodeHealthCheckRequest(bytes: Uint8Array): HealthCheckRequest {
  let service = '';
  readFields(bytes, 'HealthCheckRequest', (number, value) => {
    if (number === 1 && value instanceof Uint8Array) service = utf8Decoder.decode(value);
  });
  return { service };
}

/** Encodes a HealthCheckRequest. @internal */
export function encodeHealthCheckRequest(request: HealthCheckRequest): Uint8Array {
  // proto3 leaves an empty string out.
  if (request.service === '') return new Uint8Array(0);
  const name = utf8.encode(request.service);
  return Uint8Array.from([0x0a, ...varintBytes(name.length), ...name]);
}

/** Decodes a HealthCheckResponse: the status (field 1); an enum value we do not know is kept as its number. @internal */
export function decodeHealthCheckResponse(bytes: Uint8Array): HealthCheckResponse {
  let status = 0;
  readFields(bytes, 'HealthCheckResponse', (number, value) => {
    if (number === 1 && typeof value === 'number') status = value;
  });
  return { status: status as ServingStatus };
}

/** Encodes a HealthCheckResponse. @internal */
export function encodeHealthCheckResponse(response: HealthCheckResponse): Uint8Array {
  // proto3 leaves a zero enum out.
  return response.status === 0 ? new Uint8Array(0) : Uint8Array.from([0x08, ...varintBytes(response.status)]);
}

/** Decodes a HealthListRequest, which has no fields: any present are skipped. @internal */
export function decodeHealthListRequest(bytes: Uint8Array): Record<string, never> {
  readFields(bytes, 'HealthListRequest', () => undefined);
  return {};
}

/** Encodes a HealthListRequest: always empty. @internal */
export function encodeHealthListRequest(): Uint8Array {
  return new Uint8Array(0);
}

/** Encodes a HealthListResponse, one map entry per service. @internal */
export function encodeHealthListResponse(response: HealthListResponse): Uint8Array {
  const out: number[] = [];
  for (const [service, value] of response.statuses) {
    const key = utf8.encode(service);
    const status = encodeHealthCheckResponse(value);
    // The key and value are written even when empty, as protoc's serializers write map entries.
    const entry = [0x0a, ...varintBytes(key.length), ...key, 0x12, ...varintBytes(status.length), ...status];
    out.push(0x0a, ...varintBytes(entry.length), ...entry);
  }
  return Uint8Array.from(out);
}

/** Decodes a HealthListResponse; a map entry without a key is the key `''`, without a value UNKNOWN. @internal */
export function decodeHealthListResponse(bytes: Uint8Array): HealthListResponse {
  const statuses = new Map<string, HealthCheckResponse>();
  readFields(bytes, 'HealthListResponse', (number, value) => {
    if (number !== 1 || !(value instanceof Uint8Array)) return;
    let key = '';
    let status: HealthCheckResponse = { status: ServingStatus.UNKNOWN };
    readFields(value, 'HealthListResponse.StatusesEntry', (entryNumber, entryValue) => {
      if (!(entryValue instanceof Uint8Array)) return;
      if (entryNumber === 1) key = utf8Decoder.decode(entryValue);
      else if (entryNumber === 2) status = decodeHealthCheckResponse(entryValue);
    });
    // Protobuf encoding guide, "Maps": a repeated key keeps the last value.
    statuses.set(key, status);
  });
  return { statuses };
}
