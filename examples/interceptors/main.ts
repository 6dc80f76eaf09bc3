// Interceptors on both sides: the server logs every call and rejects calls without the right
// bearer token (UNAUTHENTICATED); the client adds the token and times each call.
//   node --import tsx examples/interceptors/main.ts
// (In your own project, import from 'grpc-iter' and 'grpc-iter/interceptors'.)
import { RpcError, createClient, insecureChannel, interceptChannel, server, statusCodeName, type ClientInterceptor } from '../../lib/index.js';
import { bearerTokenInterceptor, loggingInterceptor } from '../../lib/interceptors/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

const greeter: GreeterServer = {
  sayHello: (request) => ({ message: `Hello ${request.name}` }),
  async *sayHellos(request) {
    for (let i = 1; i <= (request.count ?? 0); i++) yield { message: `Hello #${i}, ${request.name}` };
  },
};

// Server interceptors run in order: logging sees every call, including the ones auth rejects.
const srv = server({
  interceptors: [
    loggingInterceptor({ log: (e) => console.log(`server log: ${e.method} -> ${statusCodeName(e.code)}`) }),
    bearerTokenInterceptor({ verify: (token) => token === 'let-me-in' }),
  ],
});
srv.addService(Greeter, greeter);
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();
const channel = insecureChannel(`127.0.0.1:${port}`);

// Without a token: the server's auth interceptor answers UNAUTHENTICATED, no handler runs.
try {
  await createClient(Greeter, channel).sayHello({ name: 'stranger' });
} catch (err) {
  if (!(err instanceof RpcError)) throw err;
  console.log(`no token: ${statusCodeName(err.code)}: ${err.details}`);
}

// A client interceptor is a function from the requests to the responses, with `next` to continue.
const withToken: ClientInterceptor = (details, requests, next) =>
  next({ ...details, options: { ...details.options, metadata: { authorization: 'Bearer let-me-in' } } }, requests);
const timed: ClientInterceptor = async function* (details, requests, next) {
  const started = performance.now();
  try {
    yield* next(details, requests);
  } finally {
    console.log(`client timing: ${details.method} took ${performance.now() - started < 1000 ? 'under a second' : 'long'}`);
  }
};
const client = createClient(Greeter, interceptChannel(channel, timed, withToken));
console.log(`with token: ${(await client.sayHello({ name: 'friend' })).message}`);
for await (const reply of client.sayHellos({ name: 'friend', count: 2 })) console.log(`with token: ${reply.message}`);

channel.close();
await srv.stop(null);
