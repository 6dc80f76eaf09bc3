// A raw node:http2 client for tests that need to see or send what gRPC libraries hide:
// compressed flags, exact headers, malformed frames.
import http2 from 'node:http2';

/** What came back on one stream. */
export interface RawResponse {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  data: Buffer;
  /** Length-prefixed messages parsed out of `data`. */
  messages: Array<{ compressed: boolean; payload: Buffer }>;
  /** The stream's RST_STREAM code, if it was reset. */
  rstCode: number | undefined;
}

/** A gRPC request frame: flag, big-endian length, payload. */
export function frame(payload: Buffer | string, compressed = false, claimedLength?: number): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(claimedLength ?? body.length, 1);
  return Buffer.concat([head, body]);
}

export function parseMessages(data: Buffer): Array<{ compressed: boolean; payload: Buffer }> {
  const out: Array<{ compressed: boolean; payload: Buffer }> = [];
  let i = 0;
  while (i + 5 <= data.length) {
    const length = data.readUInt32BE(i + 1);
    out.push({ compressed: data[i] === 1, payload: data.subarray(i + 5, i + 5 + length) });
    i += 5 + length;
  }
  return out;
}

export const grpcHeaders = (path: string, extra: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders => ({
  ':method': 'POST',
  ':path': path,
  'content-type': 'application/grpc',
  te: 'trailers',
  ...extra,
});

/** Sends one request on `session` (or a new connection) and collects the whole response. */
export function rawRequest(
  target: string | http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer | Buffer[] = [],
  options: { endStream?: boolean } = {},
): Promise<RawResponse> {
  const session = typeof target === 'string' ? http2.connect(`http://${target}`) : target;
  const owned = typeof target === 'string';
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: false });
    const chunks: Buffer[] = [];
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const data = Buffer.concat(chunks);
      const rstCode = stream.rstCode;
      // A request left open never lets the stream close: reset it once the response is whole.
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      if (owned) session.close();
      resolve({ headers: responseHeaders, trailers, data, messages: parseMessages(data), rstCode });
    };
    stream.on('end', finish);
    stream.on('close', finish);
    session.on('error', reject);
    for (const b of Array.isArray(body) ? body : [body]) stream.write(b);
    if (options.endStream !== false) stream.end();
  });
}

/** The gRPC status of a raw response: from trailers, or from headers for Trailers-Only. */
export function statusOf(r: RawResponse): { code: number | undefined; message: string | undefined; trailersOnly: boolean } {
  const source = r.trailers ?? r.headers;
  const code = source['grpc-status'];
  const message = source['grpc-message'];
  return {
    code: code === undefined ? undefined : Number(code),
    message: typeof message === 'string' ? decodeURIComponent(message) : undefined,
    trailersOnly: r.trailers === undefined && r.headers['grpc-status'] !== undefined,
  };
}
