// The interop protos loaded with @grpc/proto-loader for the @grpc/grpc-js reference peers.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const protos = fileURLToPath(new URL('../../examples/interop/protos', import.meta.url));

export interface TestingPackage {
  TestService: grpc.ServiceClientConstructor;
  UnimplementedService: grpc.ServiceClientConstructor;
}

export function loadTesting(): TestingPackage {
  const definition = protoLoader.loadSync('grpc/testing/test.proto', { includeDirs: [protos] });
  return (grpc.loadPackageDefinition(definition) as unknown as { grpc: { testing: TestingPackage } }).grpc.testing;
}
