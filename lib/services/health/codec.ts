import { ProtoWriter, WireType, readFields, readString, encodeHealthCheckResponse, decodeHealthCheckResponse, ServingStatus, type HealthCheckResponse } from '../../protocol/index.js';

// The messages of grpc/grpc-proto grpc/health/v1/health.proto, encoded by hand: they are small,
// and the health service must not need a .proto file or protobufjs to run. HealthCheckRequest and
// HealthCheckResponse live in protocol/health-codec.ts, shared with the client's health checking.
//
//   message HealthListRequest {}
//   message HealthListResponse { map<string, HealthCheckResponse> statuses = 1; }
//
// A map field is on the wire a repeated message `{ string key = 1; HealthCheckResponse value = 2; }`
// (protobuf encoding guide, "Maps").

export { ServingStatus, type HealthCheckRequest, type HealthCheckResponse } from '../../protocol/index.js';
/** @internal */
export { decodeHealthCheckRequest, encodeHealthCheckRequest, decodeHealthCheckResponse, encodeHealthCheckResponse } from '../../protocol/index.js';

/** A HealthListResponse: every service the health service knows, with its status. */
export interface HealthListResponse {
  /** Each service's status, by full service name (`''` is the whole server). */
  readonly statuses: ReadonlyMap<string, HealthCheckResponse>;
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
