// The executor: `server({ executor: { maxWorkers } })` runs at most that many handlers at once
// (grpcio's thread pool); the rest wait in order, and a call that gives up while waiting leaves
// the queue without its handler ever running.
//   node --import tsx examples/executor/main.ts
import { delay } from 'abort-controller-x';
import { RpcError, createClient, insecureChannel, server, statusCodeName } from '../../lib/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

let running = 0;
let mostAtOnce = 0;
const started: string[] = [];
const greeter: GreeterServer = {
  async sayHello(request, context) {
    started.push(request.name ?? '');
    mostAtOnce = Math.max(mostAtOnce, ++running);
    try {
      await delay(context.signal, request.delayMs ?? 0);
      return { message: `Hello ${request.name}` };
    } finally {
      running--;
    }
  },
  sayHellos: () => [],
};

const srv = server({ executor: { maxWorkers: 2 } });
srv.addService(Greeter, greeter);
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();
const channel = insecureChannel(`127.0.0.1:${port}`);
const client = createClient(Greeter, channel);

const names = ['a', 'b', 'c', 'd', 'e', 'f'];
const calls = names.map((name) => client.sayHello({ name, delayMs: 100 }));
// One more call that will not wait: its deadline passes while it is still queued.
const impatient = client.sayHello({ name: 'impatient', delayMs: 100 }, { timeout: 0.05 }).catch((err: RpcError) => statusCodeName(err.code));
const replies = await Promise.all(calls);
console.log(`answered: ${replies.map((r) => r.message).join(', ')}`);
console.log(`handlers running at once, at most: ${mostAtOnce}`);
console.log(`started in order: ${started.join(' ')}`);
console.log(`impatient call: ${await impatient}, its handler ran: ${started.includes('impatient')}`);

channel.close();
await srv.stop(null);
