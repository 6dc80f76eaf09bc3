// The benchmark service's UnaryCall on @connectrpc/connect-node with only its gRPC-Web protocol
// on, served twice by one process: on node:http (HTTP/1.1) and on node:http2 (cleartext HTTP/2,
// prior knowledge), the two servers a connect-node user would run. It prints
// `READY <http1 port> <http2 port>`. The descriptors come from protoc at start, as connect needs
// them at run time; no generated code is committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { PROTO, includeDirs, serve } from './control.mjs';

function loadService() {
  const dir = mkdtempSync(join(tmpdir(), 'connect-bench-'));
  try {
    const out = join(dir, 'set.binpb');
    execFileSync('protoc', [...includeDirs.map((d) => `--proto_path=${d}`), '--include_imports', `--descriptor_set_out=${out}`, PROTO], { timeout: 20_000 });
    return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out))).getService('grpc.testing.BenchmarkService');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const service = loadService();
// The same answers as the grpc-iter contender: one response object per size, made once.
const responses = new Map();
const responseOf = (size = 0) => {
  let r = responses.get(size);
  if (r === undefined) responses.set(size, (r = { payload: { body: new Uint8Array(size) } }));
  return r;
};
const handler = connectNodeAdapter({
  grpcWeb: true,
  grpc: false,
  connect: false,
  routes(router) {
    router.service(service, { unaryCall: (request) => responseOf(request.responseSize) });
  },
});

const http1 = createServer(handler);
const http2 = createHttp2Server({ settings: { maxConcurrentStreams: 100_000 } }, handler);
await Promise.all([new Promise((resolve) => http1.listen(0, '127.0.0.1', resolve)), new Promise((resolve) => http2.listen(0, '127.0.0.1', resolve))]);
const close = (s) => new Promise((resolve) => s.close(() => resolve()));
serve(`${http1.address().port} ${http2.address().port}`, () => {
  http1.closeAllConnections();
  return Promise.all([close(http1), close(http2)]);
});
