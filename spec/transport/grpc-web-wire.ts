// Raw gRPC-Web requests over HTTP/1.1 (node:http) and HTTP/2 (node:http2), for tests that check
// the bytes a browser would see (grpc/grpc doc/PROTOCOL-WEB.md).
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

export type Wire = 'HTTP/1.1' | 'HTTP/2';
export const WIRES: readonly Wire[] = ['HTTP/1.1', 'HTTP/2'];

/** A gRPC-Web frame: flag, big-endian length (or a claimed one), payload. */
export function webFrame(payload: Buffer | string, flag = 0, claimedLength?: number): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(claimedLength ?? body.length, 1);
  return Buffer.concat([head, body]);
}

export interface WebResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as received (base64 text in text mode). */
  raw: Buffer;
  /** Message payloads, in order. */
  messages: Buffer[];
  /** The compressed flag of each message. */
  compressed: boolean[];
  /** The trailers frame, parsed; undefined when the body has none. */
  trailers: Record<string, string> | undefined;
  /** The trailers block exactly as sent. */
  trailerBlock: string | undefined;
}

/** Base64 text where every 4-character group is decoded on its own (padding may come mid-body). */
export function decodeText(text: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < text.length; i += 4) parts.push(Buffer.from(text.slice(i, i + 4), 'base64'));
  return Buffer.concat(parts);
}

export function parseWebBody(raw: Buffer, text: boolean): Pick<WebResponse, 'messages' | 'compressed' | 'trailers' | 'trailerBlock'> {
  const bytes = text ? decodeText(raw.toString('latin1')) : raw;
  const messages: Buffer[] = [];
  const compressed: boolean[] = [];
  let trailers: Record<string, string> | undefined;
  let trailerBlock: string | undefined;
  let i = 0;
  while (i + 5 <= bytes.length) {
    const flag = bytes[i]!;
    const length = bytes.readUInt32BE(i + 1);
    const payload = bytes.subarray(i + 5, i + 5 + length);
    if ((flag & 0x80) !== 0) {
      trailerBlock = payload.toString('utf8');
      trailers = {};
      for (const line of trailerBlock.split('\r\n')) {
        if (line === '') continue;
        const colon = line.indexOf(':');
        const key = line.slice(0, colon);
        trailers[key] = trailers[key] === undefined ? line.slice(colon + 1).trim() : `${trailers[key]}, ${line.slice(colon + 1).trim()}`;
      }
    } else {
      messages.push(payload);
      compressed.push((flag & 1) !== 0);
    }
    i += 5 + length;
  }
  return { messages, compressed, trailers, trailerBlock };
}

export interface PostOptions {
  /** Request headers; content-type defaults to application/grpc-web+proto. */
  headers?: Record<string, string>;
  method?: string;
  /** Called with each response chunk as it arrives (and a way to abort the request). */
  onChunk?: (chunk: Buffer, abort: () => void) => void;
  /** Called once the response headers are in. */
  onResponse?: (abort: () => void) => void;
}

/** One request over `wire`; resolves with the whole response, or rejects when it was aborted. */
export function post(wire: Wire, address: string, path: string, body: Buffer | string, options: PostOptions = {}): Promise<WebResponse> {
  const headers = { 'content-type': 'application/grpc-web+proto', ...options.headers };
  const method = options.method ?? 'POST';
  const done = (status: number, responseHeaders: WebResponse['headers'], raw: Buffer): WebResponse => {
    const text = String(responseHeaders['content-type'] ?? '').startsWith('application/grpc-web-text');
    return { status, headers: responseHeaders, raw, ...parseWebBody(raw, text) };
  };
  if (wire === 'HTTP/1.1') {
    const [host, port] = splitAddress(address);
    return new Promise((resolve, reject) => {
      const req = http.request({ host, port, method, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        const abort = (): void => {
          req.destroy();
        };
        options.onResponse?.(abort);
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          options.onChunk?.(c, abort);
        });
        res.on('end', () => resolve(done(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('aborted')));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', reject);
    const stream = session.request({ ':method': method, ':path': path, ...headers });
    const chunks: Buffer[] = [];
    let responseHeaders: WebResponse['headers'] = {};
    let status = 0;
    const abort = (): void => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith(':'))) as WebResponse['headers'];
      options.onResponse?.(abort);
    });
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      options.onChunk?.(c, abort);
    });
    stream.on('error', () => undefined);
    stream.on('close', () => {
      session.close();
      if (stream.rstCode === http2.constants.NGHTTP2_CANCEL && status === 0) reject(new Error('aborted'));
      else resolve(done(status, responseHeaders, Buffer.concat(chunks)));
    });
    stream.end(body);
  });
}

export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

/** A raw TCP connection that collects what the server sends and says when it closes. */
export interface RawConnection {
  readonly socket: net.Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
  /** Resolves once `text` has been received. */
  waitFor(text: string): Promise<string>;
}

export async function rawConnect(address: string): Promise<RawConnection> {
  const [host, port] = splitAddress(address);
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  let data = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (c: Buffer) => {
    data += c.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    received: () => data,
    closed,
    waitFor(text) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (data.includes(text)) resolve(data);
          else if (socket.destroyed) reject(new Error(`Connection closed before "${text}" arrived; got ${JSON.stringify(data)}`));
          else waiters.push(check);
        };
        socket.once('close', check);
        check();
      });
    },
  };
}
