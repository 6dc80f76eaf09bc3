// The test service of the gRPC-Web client specs, built at run time: protoc writes a descriptor
// set into a temp dir, @bufbuild/protobuf's registry reads it, and both connect's router and our
// client's method definitions come from it. No generated code is committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type DescService, type MessageShape } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { MethodDefinition } from '../../lib/index.js';

const ECHO_PROTO = `syntax = "proto3";
package webtest;
message EchoRequest {
  string message = 1;
  int32 count = 2;
}
message EchoReply {
  string message = 1;
  int32 index = 2;
}
service Echo {
  rpc Unary(EchoRequest) returns (EchoReply);
  rpc ServerStream(EchoRequest) returns (stream EchoReply);
  rpc ClientStream(stream EchoRequest) returns (EchoReply);
  rpc Bidi(stream EchoRequest) returns (stream EchoReply);
}
`;

// google.rpc.ErrorInfo with googleapis' field numbers (google/rpc/error_details.proto).
const ERROR_DETAILS_PROTO = `syntax = "proto3";
package google.rpc;
message ErrorInfo {
  string reason = 1;
  string domain = 2;
  map<string, string> metadata = 3;
}
`;

export interface EchoRequest {
  message: string;
  count: number;
}
export interface EchoReply {
  message: string;
  index: number;
}

/** The service and message descriptors, from protoc's output. */
export function loadEchoService(): { service: DescService; request: DescMessage; reply: DescMessage; errorInfo: DescMessage } {
  const dir = mkdtempSync(join(tmpdir(), 'grpc-web-proto-'));
  try {
    writeFileSync(join(dir, 'echo.proto'), ECHO_PROTO);
    writeFileSync(join(dir, 'error_info.proto'), ERROR_DETAILS_PROTO);
    const out = join(dir, 'set.binpb');
    execFileSync('protoc', [`--proto_path=${dir}`, '--include_imports', `--descriptor_set_out=${out}`, 'echo.proto', 'error_info.proto'], { timeout: 20_000 });
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
    return {
      service: registry.getService('webtest.Echo')!,
      request: registry.getMessage('webtest.EchoRequest')!,
      reply: registry.getMessage('webtest.EchoReply')!,
      errorInfo: registry.getMessage('google.rpc.ErrorInfo')!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function codec<T extends object>(desc: DescMessage): { encode: (value: T) => Uint8Array; decode: (bytes: Uint8Array) => T } {
  return {
    encode: (value) => toBinary(desc, create(desc, value as never)),
    decode: (bytes) => {
      const { $typeName: _, ...fields } = fromBinary(desc, bytes) as MessageShape<DescMessage> & Record<string, unknown>;
      return fields as T;
    },
  };
}

/** Our method definitions of webtest.Echo, for createClient. */
export function echoDefinition(request: DescMessage, reply: DescMessage) {
  const req = codec<EchoRequest>(request);
  const res = codec<EchoReply>(reply);
  // The streaming flags stay literal types, so createClient types each method by its kind.
  const method = <Q extends boolean, S extends boolean>(name: string, requestStream: Q, responseStream: S): MethodDefinition<EchoRequest, EchoReply> & { readonly requestStream: Q; readonly responseStream: S } => ({
    path: `/webtest.Echo/${name}`,
    requestStream,
    responseStream,
    requestSerialize: req.encode,
    requestDeserialize: req.decode,
    responseSerialize: res.encode,
    responseDeserialize: res.decode,
  });
  return {
    Unary: method('Unary', false, false),
    ServerStream: method('ServerStream', false, true),
    ClientStream: method('ClientStream', true, false),
    Bidi: method('Bidi', true, true),
  } as const;
}
