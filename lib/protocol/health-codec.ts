import { ProtoWriter, WireType, readFields, readString } from './protobuf-wire.js';

// The two messages of grpc/grpc-proto grpc/health/v1/health.proto that Check and Watch carry,
// encoded by hand: they are small, and neither the health service nor the client's health
// checking (gRFC A17) may need a .proto file or protobufjs to run.
//
//   message HealthCheckRequest { string service = 1; }
//   message HealthCheckResponse { ServingStatus status = 1; }

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
