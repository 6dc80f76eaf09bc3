// `npm run demo`: starts the greeter server, calls each of its four methods with
// @grpc/grpc-js (another implementation, to show they interoperate), prints the answers, stops
// the server, and exits 0 only if every answer was right.
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { fromJson, startGreeter, toJson } from './server.js';

const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/demo.Greeter/${name}`,
  requestStream,
  responseStream,
  requestSerialize: (v: unknown) => Buffer.from(toJson(v)),
  requestDeserialize: fromJson,
  responseSerialize: (v: unknown) => Buffer.from(toJson(v)),
  responseDeserialize: (b: Buffer) => fromJson<{ message: string }>(b),
});
const Greeter = grpc.makeGenericClientConstructor(
  { SayHello: method('SayHello', false, false), CountTo: method('CountTo', false, true), GreetAll: method('GreetAll', true, false), Chat: method('Chat', true, true) },
  'Greeter',
);

const { srv, port } = await startGreeter();
console.log(`greeter server on 127.0.0.1:${port}`);
const client = new Greeter(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => never>;
try {
  const hello = await new Promise<{ message: string }>((resolve, reject) => client.SayHello!({ name: 'newcomer' }, (e: Error | null, v: { message: string }) => (e ? reject(e) : resolve(v))));
  console.log(`SayHello  -> ${hello.message}`);
  assert.equal(hello.message, 'Hello newcomer');

  const empty = await new Promise<grpc.ServiceError>((resolve) => client.SayHello!({ name: '' }, (e: grpc.ServiceError) => resolve(e)));
  console.log(`SayHello('') -> ${grpc.status[empty.code]}: ${empty.details}`);
  assert.equal(empty.code, grpc.status.INVALID_ARGUMENT);

  const counted: string[] = [];
  for await (const reply of client.CountTo!({ n: 3 }) as AsyncIterable<{ message: string }>) counted.push(reply.message);
  console.log(`CountTo   -> ${counted.join(' ')}`);
  assert.deepEqual(counted, ['1', '2', '3']);

  const all = await new Promise<{ message: string }>((resolve, reject) => {
    const call = client.GreetAll!((e: Error | null, v: { message: string }) => (e ? reject(e) : resolve(v))) as grpc.ClientWritableStream<unknown>;
    for (const name of ['Ada', 'Grace', 'Linus']) call.write({ name });
    call.end();
  });
  console.log(`GreetAll  -> ${all.message}`);
  assert.equal(all.message, 'Hello Ada, Grace, Linus');

  const chat = client.Chat!() as grpc.ClientDuplexStream<unknown, { message: string }>;
  const replies: string[] = [];
  chat.on('data', (r: { message: string }) => replies.push(r.message));
  const ended = new Promise((resolve) => chat.on('end', resolve));
  chat.write({ name: 'one' });
  chat.write({ name: 'two' });
  chat.end();
  await ended;
  console.log(`Chat      -> ${replies.join(' / ')}`);
  assert.deepEqual(replies, ['Hi one', 'Hi two']);
  console.log('demo: all four RPC kinds answered');
} finally {
  (client as unknown as grpc.Client).close();
  await srv.stop(1);
}
