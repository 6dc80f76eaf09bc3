// Deadlines across two hops: client → frontend → backend. The frontend calls the backend with
// `{ parent: context }`, so the client's deadline travels on; when it passes, every hop stops.
//   node --import tsx examples/deadlines/main.ts
// (In your own project, import from 'grpc-iter' and 'abort-controller-x'.)
import { delay } from 'abort-controller-x';
import { RpcError, createClient, insecureChannel, server, statusCodeName } from '../../lib/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

// The backend takes `delayMs`, and stops at once when the call is cancelled or times out.
let backendStopped: (code: string) => void = () => undefined;
const backendSawStop = new Promise<string>((resolve) => (backendStopped = resolve));
const backend = server();
const backendGreeter: GreeterServer = {
  async sayHello(request, context) {
    const left = context.timeRemaining();
    console.log(`backend: got "${request.name}", deadline ${left === null ? 'none' : left <= 1 ? 'inherited (under 1 s left)' : 'later than 1 s'}`);
    try {
      await delay(context.signal, request.delayMs ?? 0);
    } catch (err) {
      backendStopped(statusCodeName((context.signal.reason as RpcError).code));
      throw err;
    }
    return { message: `Hello ${request.name}` };
  },
  sayHellos: () => [],
};
backend.addService(Greeter, backendGreeter);
const backendPort = await backend.addInsecurePort('127.0.0.1:0');
await backend.start();
const toBackend = insecureChannel(`127.0.0.1:${backendPort}`);
const backendClient = createClient(Greeter, toBackend);

// The frontend passes its context as the parent of its own call.
const frontend = server();
frontend.addService(Greeter, {
  sayHello: (request, context) => backendClient.sayHello(request, { parent: context }),
  sayHellos: () => [],
} satisfies GreeterServer);
const frontendPort = await frontend.addInsecurePort('127.0.0.1:0');
await frontend.start();
const toFrontend = insecureChannel(`127.0.0.1:${frontendPort}`);
const client = createClient(Greeter, toFrontend);

console.log(`client: ${(await client.sayHello({ name: 'quick', delayMs: 10 }, { timeout: 0.5 })).message}`);
try {
  await client.sayHello({ name: 'slow', delayMs: 5_000 }, { timeout: 0.3 });
} catch (err) {
  if (!(err instanceof RpcError)) throw err;
  console.log(`client: ${statusCodeName(err.code)} after 0.3 s`);
}
// The backend's own timer and the frontend's cancel race to stop it: either way it stops now.
const code = await backendSawStop;
console.log(`backend: stopped early (${code === 'DEADLINE_EXCEEDED' ? 'its own deadline passed' : code === 'CANCELLED' ? 'the frontend cancelled its call' : code})`);

toFrontend.close();
toBackend.close();
await Promise.all([frontend.stop(null), backend.stop(null)]);
