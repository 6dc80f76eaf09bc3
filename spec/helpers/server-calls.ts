import { after, before } from 'node:test';
import { once } from 'node:events';
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Http2ServerCall } from '../../lib/transport/http2-server-call.js';

/** One request as the server call sees it, with the client's side of its stream. */
export interface OpenedCall {
  readonly req: ClientHttp2Stream;
  readonly stream: ServerHttp2Stream;
  readonly call: Http2ServerCall;
}

const LIMITS = { maxReceiveMessageBytes: -1, maxSendMessageBytes: -1 };

/**
 * A node:http2 server that makes an Http2ServerCall of each stream directly (no grpc-iter server
 * around it), and a client connected to it, for the suite it is called in (before/after hooks).
 * @returns open(): starts a gRPC request (with `extra` headers) and gives its call
 */
export function serverCalls(): { open(extra?: Record<string, string | string[]>): Promise<OpenedCall> } {
  let h2: Http2Server;
  let client: ClientHttp2Session;
  const arrived: Array<{ stream: ServerHttp2Stream; call: Http2ServerCall }> = [];
  const waiters: Array<() => void> = [];

  before(async () => {
    h2 = http2.createServer();
    h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      arrived.push({ stream, call: new Http2ServerCall(stream, headers, rawHeaders, LIMITS) });
      for (const w of waiters.splice(0)) w();
    });
    h2.listen(0, '127.0.0.1');
    await once(h2, 'listening');
    client = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
    client.on('error', () => undefined);
    await once(client, 'connect');
  });
  after(async () => {
    client.destroy();
    await new Promise((resolve) => h2.close(resolve));
  });

  return {
    async open(extra = {}) {
      const count = arrived.length;
      const req = client.request({ ':method': 'POST', ':path': '/test.Svc/Chat', 'content-type': 'application/grpc', te: 'trailers', ...extra }, { endStream: false });
      req.on('error', () => undefined);
      req.resume();
      while (arrived.length === count) await new Promise<void>((resolve) => waiters.push(resolve));
      return { req, ...arrived[count]! };
    },
  };
}
