import { ProtoWriter, WireType, readFields, readString } from '../../protocol/index.js';

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

/** Decodes a HealthCheckRequest: the service name (field 1), other fields skipped. @internal */
export function decodeHealthCheckRequest(bytes: Uint8Array): HealthCheckRequest {
  let service = '';
  for (const f of readFields(bytes, 'HealthCheckRequest')) {
    if (f.field === 1 && f.wireType === WireType.LEN) service = readString(f.bytes);
  }
  return { service };
}

/** Encodes a HealthCheckRequest. @internal */
export function encodeHealthCheckRequest(request: HealthCheckRequest): Uint8Array {
  // proto3 leaves an empty string out.
  return new ProtoWriter().string(1, request.service).finish();
}

/** Decodes a HealthCheckResponse: the status (field 1); an enum value we do not know is kept as its number. @internal */
export function decodeHealthCheckResponse(bytes: Uint8Array): HealthCheckResponse {
  let status = 0;
  for (const f of readFields(bytes, 'HealthCheckResponse')) {
    if (f.field === 1 && f.wireType === WireType.VARINT) status = f.int;
  }
  return { status: status as ServingStatus };
}

/** Encodes a HealthCheckResponse. @internal */
export function encodeHealthCheckResponse(response: HealthCheckResponse): Uint8Array {
  // proto3 leaves a zero enum out.
  return new ProtoWriter().int(1, response.status).finish();
}

/** Decodes a HealthListRequest, which has no fields: any present are skipped. @internal */
export function decodeHealthListRequest(bytes: Uint8Array): Record<string, never> {
  readFields(bytes, 'HealthListRequest');
  return {};
}

/** Encodes a HealthListRequest: always empty. @internal */
export function encodeHealthListRequest(): Uint8Array {
  return new Uint8Array(0);
}

/** Encodes a HealthListResponse, one map entry per service. @internal */
export function encodeHealthListResponse(response: HealthListResponse): Uint8Array {
  const w = new ProtoWriter();
  for (const [service, value] of response.statuses) {
    // The key and value are written even when empty, as protoc's serializers write map entries.
    w.message(1, new ProtoWriter().string(1, service, true).message(2, encodeHealthCheckResponse(value)).finish());
  }
  return w.finish();
}

/** Decodes a HealthListResponse; a map entry without a key is the key `''`, without a value UNKNOWN. @internal */
export function decodeHealthListResponse(bytes: Uint8Array): HealthListResponse {
  const statuses = new Map<string, HealthCheckResponse>();
  for (const f of readFields(bytes, 'HealthListResponse')) {
    if (f.field !== 1 || f.wireType !== WireType.LEN) continue;
    let key = '';
    let status: HealthCheckResponse = { status: ServingStatus.UNKNOWN };
    for (const g of readFields(f.bytes, 'HealthListResponse.StatusesEntry')) {
      if (g.wireType !== WireType.LEN) continue;
      if (g.field === 1) key = readString(g.bytes);
      else if (g.field === 2) status = decodeHealthCheckResponse(g.bytes);
    }
    // Protobuf encoding guide, "Maps": a repeated key keeps the last value.
    statuses.set(key, status);
  }
  return { statuses };
}
