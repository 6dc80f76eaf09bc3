import { StatusCode } from './status.js';

// doc/http-grpc-status-mapping.md: an HTTP response without grpc-status is mapped from its
// HTTP status code.

/**
 * The gRPC status for an HTTP response that carries no `grpc-status`.
 * @param httpStatus - the `:status` of the response
 * @returns the mapped status code
 */
export function statusFromHttpStatus(httpStatus: number): StatusCode {
  switch (httpStatus) {
    case 400:
      return StatusCode.INTERNAL;
    case 401:
      return StatusCode.UNAUTHENTICATED;
    case 403:
      return StatusCode.PERMISSION_DENIED;
    case 404:
      return StatusCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return StatusCode.UNAVAILABLE;
    default:
      return StatusCode.UNKNOWN;
  }
}
