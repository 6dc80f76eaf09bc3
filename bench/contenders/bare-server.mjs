// The ceiling: a bare node:http2 server answering the benchmark service's paths with
// precomputed gRPC responses. It decodes nothing; it only finds message boundaries.
import { existsSync } from 'node:fs';
import http2 from 'node:http2';
import protobuf from 'protobufjs';
import { PROTO, includeDirs, serve } from './control.mjs';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => includeDirs.map((d) => `${d}/${target}`).find((p) => existsSync(p)) ?? target;
root.loadSync(PROTO);
const SimpleRequest = root.lookupType('grpc.testing.SimpleRequest');
const SimpleResponse = root.lookupType('grpc.testing.SimpleResponse');

const frames = new Map();
function frameOf(size) {
  let f = frames.get(size);
  if (f === undefined) {
    const body = SimpleResponse.encode({ payload: { body: Buffer.alloc(size) } }).finish();
    f = Buffer.alloc(5 + body.length);
    f.writeUInt32BE(body.length, 1);
    Buffer.from(body).copy(f, 5);
    frames.set(size, f);
  }
  return f;
}
const HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
const TRAILERS = { 'grpc-status': '0' };

/** Calls `onMessage(bytes)` for each length-prefixed message of the request stream. */
function messages(stream, onMessage) {
  let buffered = Buffer.alloc(0);
  stream.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5) {
      const length = buffered.readUInt32BE(1);
      if (buffered.length < 5 + length) break;
      onMessage(buffered.subarray(5, 5 + length));
      buffered = buffered.subarray(5 + length);
    }
  });
}

const sizeOf = (bytes) => SimpleRequest.decode(bytes).responseSize ?? 0;

const srv = http2.createServer({ settings: { maxConcurrentStreams: 100_000 } });
srv.on('stream', (stream, headers) => {
  stream.on('error', () => undefined);
  const path = headers[':path'];
  if (path === '/grpc.testing.BenchmarkService/UnaryCall' || path === '/grpc.testing.BenchmarkService/StreamingFromClient') {
    let size = 0;
    messages(stream, (m) => (size = sizeOf(m)));
    stream.on('end', () => {
      if (stream.destroyed) return;
      stream.respond(HEADERS, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers(TRAILERS));
      stream.end(frameOf(size));
    });
  } else if (path === '/grpc.testing.BenchmarkService/StreamingCall') {
    stream.respond(HEADERS, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(TRAILERS));
    messages(stream, (m) => stream.write(frameOf(sizeOf(m))));
    stream.on('end', () => stream.end());
  } else if (path === '/grpc.testing.BenchmarkService/StreamingFromServer' || path === '/grpc.testing.BenchmarkService/StreamingBothWays') {
    stream.respond(HEADERS);
    let frame;
    const pump = () => {
      while (!stream.destroyed && frame !== undefined) if (!stream.write(frame)) return void stream.once('drain', pump);
    };
    messages(stream, (m) => {
      if (frame !== undefined) return;
      frame = frameOf(path.endsWith('Server') ? sizeOf(m) : 0);
      pump();
    });
  } else {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
  }
});
await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
serve(srv.address().port, () => new Promise((resolve) => srv.close(resolve)));
