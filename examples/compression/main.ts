// Compression both ways: a client that compresses its requests, a server that compresses its
// responses, and single messages that skip compression on either side.
//   node --import tsx examples/compression/main.ts
// (In your own project, import from 'grpc-iter'.)
import { Compression, createClient, insecureChannel, server } from '../../lib/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

const greeter: GreeterServer = {
  sayHello(request, context) {
    console.log(`server: the request arrived ${context.requestCompressed() ? 'compressed' : 'uncompressed'}`);
    return { message: `Hello ${request.name}`.repeat(20) };
  },
  async *sayHellos(request, context) {
    for (let i = 1; i <= (request.count ?? 0); i++) {
      // Every other message goes out uncompressed (say, because it is already compressed).
      if (i % 2 === 0) context.disableNextMessageCompression();
      yield { message: `Hello #${i}, ${request.name}` };
    }
  },
};

// Every response is compressed with gzip when the client accepts it (a handler may change
// its own call with context.setCompression).
const srv = server({ compression: Compression.Gzip });
srv.addService(Greeter, greeter);
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();
const channel = insecureChannel(`127.0.0.1:${port}`);
const client = createClient(Greeter, channel);

const plain = await client.sayHello.withCall({ name: 'plain' });
console.log(`client: the response arrived ${plain.responseCompressed ? 'compressed' : 'uncompressed'}`);
await client.sayHello({ name: 'zipped' }, { compression: Compression.Gzip });

const stream = client.sayHellos({ name: 'stream', count: 4 });
for await (const reply of stream) console.log(`client: ${reply.message} (${stream.responseCompressed() ? 'compressed' : 'uncompressed'})`);

channel.close();
await srv.stop(null);
