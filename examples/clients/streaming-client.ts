// Streaming clients: a server stream read with for await, a client stream fed from an async
// generator, and a bidi call composed with it-pipe like any other stage.
//   node --import tsx examples/clients/streaming-client.ts
import { pipe } from 'it-pipe';
import { insecureChannel } from '../../lib/index.js';
import { fromJson, startGreeter, toJson, type HelloReply, type HelloRequest } from '../greeter/server.js';

const { srv, port } = await startGreeter();
const channel = insecureChannel(`127.0.0.1:${port}`);
try {
  const countTo = channel.unaryStream<{ n: number }, HelloReply>('/demo.Greeter/CountTo', toJson, fromJson);
  const counted: string[] = [];
  for await (const reply of countTo({ n: 3 })) counted.push(reply.message);
  console.log(`server stream: ${counted.join(' ')}`);

  const greetAll = channel.streamUnary<HelloRequest, HelloReply>('/demo.Greeter/GreetAll', toJson, fromJson);
  async function* names(): AsyncGenerator<HelloRequest> {
    for (const name of ['Ada', 'Grace']) yield { name };
  }
  console.log(`client stream: ${(await greetAll(names())).message}`);

  const chat = channel.streamStream<HelloRequest, HelloReply>('/demo.Greeter/Chat', toJson, fromJson);
  const lines = await pipe(
    ['one', 'two', 'three'].map((name) => ({ name })),
    (requests) => chat(requests),
    async (replies) => {
      const out: string[] = [];
      for await (const r of replies) out.push(r.message);
      return out;
    },
  );
  console.log(`bidi via it-pipe: ${lines.join(' / ')}`);
} finally {
  channel.close();
  await srv.stop(1);
}
