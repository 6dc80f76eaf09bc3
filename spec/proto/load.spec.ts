import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createClient, insecureChannel, server, type ServiceDefinition } from '../../lib/index.js';
import { ProtoLoadError, loadProto, type MessageType, type ProtoNamespace } from '../../lib/proto/index.js';

const dir = mkdtempSync(join(tmpdir(), 'grpc-iter-proto-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return name;
};

write(
  'shop.proto',
  `syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "common.proto";
service Shop {
  rpc GetItem(ItemRequest) returns (Item);
  rpc Watch(ItemRequest) returns (stream Item);
  rpc Upload(stream Item) returns (common.Ack);
  rpc Chat(stream Item) returns (stream Item);
}
message ItemRequest { string item_id = 1; }
message Item {
  enum Kind { KIND_UNSPECIFIED = 0; BOOK = 1; }
  message Price { int64 cents = 1; }
  string item_id = 1;
  Kind kind = 2;
  Price price = 3;
  bytes blob = 4;
  google.protobuf.Timestamp added = 5;
  google.protobuf.StringValue note = 6;
  oneof extra { string tag = 7; int32 rank = 8; }
  map<string, int32> stock = 9;
  repeated int32 sizes = 10;
}
`,
);
write('common.proto', 'syntax = "proto3";\npackage common;\nmessage Ack { bool ok = 1; }\n');

describe('loadProto', () => {
  it('loads services with paths, streaming flags and codecs, resolving imports and well-known types', () => {
    const root = loadProto('shop.proto', { includeDirs: [dir] });
    const shop = (root.shop as ProtoNamespace).v1 as ProtoNamespace;
    const svc = shop.Shop as ServiceDefinition;
    assert.deepEqual(
      Object.entries(svc).map(([k, m]) => [k, m.path, m.requestStream, m.responseStream]),
      [
        ['GetItem', '/shop.v1.Shop/GetItem', false, false],
        ['Watch', '/shop.v1.Shop/Watch', false, true],
        ['Upload', '/shop.v1.Shop/Upload', true, false],
        ['Chat', '/shop.v1.Shop/Chat', true, true],
      ],
    );
    const item = shop.Item as MessageType;
    assert.equal(item.fullName, 'shop.v1.Item');
    assert.ok((shop['Item.Price'] as MessageType).encode !== undefined, 'nested types sit beside their parent');
    assert.ok(((root.common as ProtoNamespace).Ack as MessageType).encode !== undefined);
  });

  it('round-trips every field kind, with proto-loader style options', () => {
    const shop = ((loadProto('shop.proto', { includeDirs: [dir], longs: String, enums: String, bytes: String, defaults: true, oneofs: true }).shop as ProtoNamespace).v1 as ProtoNamespace);
    const item = shop.Item as MessageType;
    const value = {
      itemId: 'b-1',
      kind: 'BOOK',
      price: { cents: '9007199254740993' },
      blob: Buffer.from([1, 2, 255]).toString('base64'),
      added: { seconds: '1700000000', nanos: 5 },
      note: { value: 'signed' },
      rank: 3,
      stock: { berlin: 4 },
      sizes: [1, 2, 3],
    };
    const decoded = item.decode(item.encode(value));
    assert.equal(decoded.itemId, 'b-1');
    assert.equal(decoded.kind, 'BOOK');
    assert.deepEqual(decoded.price, { cents: '9007199254740993' }, '64-bit integers survive as strings');
    assert.equal(decoded.blob, value.blob);
    assert.deepEqual(decoded.added, { seconds: '1700000000', nanos: 5 });
    assert.deepEqual(decoded.note, { value: 'signed' });
    assert.equal(decoded.rank, 3);
    assert.equal(decoded.extra, 'rank', 'oneofs: the virtual field names the member present');
    assert.deepEqual(decoded.stock, { berlin: 4 });
    assert.deepEqual(decoded.sizes, [1, 2, 3]);
    const empty = item.decode(item.encode({}));
    assert.equal(empty.itemId, '', 'defaults: unset fields get their defaults');
    const kept = ((loadProto('shop.proto', { includeDirs: [dir], keepCase: true }).shop as ProtoNamespace).v1 as ProtoNamespace).Item as MessageType;
    assert.equal(kept.decode(kept.encode({ item_id: 'x' })).item_id, 'x', 'keepCase keeps snake_case names');
  });

  it('names the file for a missing file, the file and line for a syntax error, and the type for an unknown one', () => {
    assert.throws(() => loadProto('nope.proto', { includeDirs: [dir] }), (err: unknown) => err instanceof ProtoLoadError && /"nope\.proto".*not found/.test(err.message));
    write('broken.proto', 'syntax = "proto3";\nmessage A {\n  string name = 1\n}\n');
    assert.throws(() => loadProto('broken.proto', { includeDirs: [dir] }), (err: unknown) => err instanceof ProtoLoadError && /broken\.proto/.test(err.message) && /line 4/.test(err.message));
    write('unknown.proto', 'syntax = "proto3";\nmessage A {\n  Missing thing = 1;\n}\n');
    assert.throws(() => loadProto('unknown.proto', { includeDirs: [dir] }), (err: unknown) => err instanceof ProtoLoadError && /unknown\.proto/.test(err.message) && /Missing/.test(err.message));
    assert.throws(() => loadProto([]), TypeError);
  });
});

describe('loaded definitions interoperate with @grpc/grpc-js', () => {
  let svc: ServiceDefinition;
  let js: grpc.Server;
  let jsPort: number;
  before(async () => {
    svc = ((loadProto('shop.proto', { includeDirs: [dir] }).shop as ProtoNamespace).v1 as ProtoNamespace).Shop as ServiceDefinition;
    js = new grpc.Server();
    js.addService(svc as unknown as grpc.ServiceDefinition, {
      GetItem: (call: grpc.ServerUnaryCall<{ itemId: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { itemId: `js:${call.request.itemId}`, sizes: [7] }),
    });
    jsPort = await new Promise<number>((resolve, reject) => js.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  });
  after(() => js.forceShutdown());

  it('our client calls a grpc-js server serving the same definition', async () => {
    const channel = insecureChannel(`127.0.0.1:${jsPort}`);
    const client = createClient(svc, channel) as unknown as { getItem(r: { itemId: string }): Promise<{ itemId: string; sizes: number[] }> };
    assert.deepEqual(await client.getItem({ itemId: 'a' }), { itemId: 'js:a', sizes: [7] });
    channel.close();
  });

  it('a grpc-js client calls our server serving it through addService', async () => {
    const srv = server();
    srv.addService(svc, { getItem: (r: { itemId: string }) => ({ itemId: `iter:${r.itemId}` }) });
    const port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    const Client = grpc.makeGenericClientConstructor(svc as unknown as grpc.ServiceDefinition, 'Shop');
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as { GetItem(r: object, cb: (e: Error | null, v: { itemId: string }) => void): void; close(): void };
    const reply = await new Promise<{ itemId: string }>((resolve, reject) => client.GetItem({ itemId: 'b' }, (e, v) => (e ? reject(e) : resolve(v))));
    assert.equal(reply.itemId, 'iter:b');
    client.close();
    await srv.stop(null);
  });
});
