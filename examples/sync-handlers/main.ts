// Handlers need not be async: a plain function that returns the response, or a generator that
// yields the responses, is served exactly as an async function or an async generator is.
//   node --import tsx examples/sync-handlers/main.ts
// (In your own project, import from 'grpc-iter'.)
import { delay } from 'abort-controller-x';
import { createClient, insecureChannel, server } from '../../lib/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

// Plain functions: no promises in sight.
const syncGreeter: GreeterServer = {
  sayHello: (request) => ({ message: `Hello ${request.name} (sync function)` }),
  *sayHellos(request) {
    for (let i = 1; i <= (request.count ?? 0); i++) yield { message: `Hello #${i} (sync generator)` };
  },
};

// The same service with async handlers: they may await, and stop when the call does.
const asyncGreeter: GreeterServer = {
  async sayHello(request, context) {
    await delay(context.signal, 1);
    return { message: `Hello ${request.name} (async function)` };
  },
  async *sayHellos(request, context) {
    for (let i = 1; i <= (request.count ?? 0); i++) {
      await delay(context.signal, 1);
      yield { message: `Hello #${i} (async generator)` };
    }
  },
};

for (const implementation of [syncGreeter, asyncGreeter]) {
  const srv = server();
  srv.addService(Greeter, implementation);
  const port = await srv.addInsecurePort('127.0.0.1:0');
  await srv.start();
  const channel = insecureChannel(`127.0.0.1:${port}`);
  const client = createClient(Greeter, channel);
  console.log((await client.sayHello({ name: 'you' })).message);
  for await (const reply of client.sayHellos({ count: 2 })) console.log(reply.message);
  channel.close();
  await srv.stop(null);
}
