import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { methodHandlersGenericHandler, server, streamUnaryRpcMethodHandler, unaryUnaryRpcMethodHandler, type Server } from '../../lib/index.js';

const enc = (s: string): Buffer => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();
const def = (path: string, requestStream: boolean) => ({ path, requestStream, responseStream: false, requestSerialize: enc, requestDeserialize: dec, responseSerialize: enc, responseDeserialize: dec });
const Client = grpc.makeGenericClientConstructor({ Unary: def('/t.C/Unary', false), Collect: def('/t.C/Collect', true) }, 'C');

describe('context.requestCompressed()', () => {
  let srv: Server;
  let port: number;
  before(async () => {
    srv = server();
    srv.addGenericRpcHandlers([
      methodHandlersGenericHandler('t.C', {
        Unary: unaryUnaryRpcMethodHandler((_r: string, ctx) => String(ctx.requestCompressed()), dec, enc),
        Collect: streamUnaryRpcMethodHandler(async (reqs: AsyncIterable<string>, ctx) => {
          const flags: boolean[] = [];
          for await (const _ of reqs) flags.push(ctx.requestCompressed());
          return flags.join(',');
        }, dec, enc),
      }),
    ]);
    port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
  });
  after(() => srv.stop(null));

  const call = (options: grpc.ChannelOptions, name: 'Unary' | 'Collect'): Promise<string> => {
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options) as unknown as Record<string, (...a: unknown[]) => grpc.ClientWritableStream<string>>;
    return new Promise<string>((resolve, reject) => {
      const cb = (err: grpc.ServiceError | null, value: string): void => (err ? reject(err) : resolve(value));
      if (name === 'Unary') client.Unary!('x'.repeat(200), cb);
      else {
        const w = client.Collect!(cb);
        w.write('a'.repeat(200));
        w.write('b'.repeat(200));
        w.end();
      }
    }).finally(() => (client as unknown as grpc.Client).close());
  };

  it('is true for a request message the client compressed with gzip', async () => {
    assert.equal(await call({ 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip }, 'Unary'), 'true');
  });

  it('is false for an uncompressed request message', async () => {
    assert.equal(await call({}, 'Unary'), 'false');
  });

  it('follows each message of a request stream', async () => {
    assert.equal(await call({ 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.deflate }, 'Collect'), 'true,true');
    assert.equal(await call({}, 'Collect'), 'false,false');
  });
});
