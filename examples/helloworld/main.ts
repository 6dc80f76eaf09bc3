// helloworld: the minimal unary server and client, from helloworld.proto.
//   node --import tsx examples/helloworld/main.ts [name]
// (In your own project, import from 'grpc-iter' and 'grpc-iter/proto'.)
import { createClient, insecureChannel, server, type ServiceDefinition } from '../../lib/index.js';
import { loadProto } from '../../lib/proto/index.js';

const { helloworld } = loadProto(new URL('./helloworld.proto', import.meta.url).pathname) as unknown as { helloworld: { Greeter: ServiceDefinition } };

// The server: one function per method.
const srv = server();
srv.addService(helloworld.Greeter, {
  sayHello: (request: { name: string }) => ({ message: `Hello ${request.name}` }),
});
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();

// The client: one method per RPC, returning a Promise.
const channel = insecureChannel(`127.0.0.1:${port}`);
const greeter = createClient(helloworld.Greeter, channel) as unknown as { sayHello(r: { name: string }): Promise<{ message: string }> };
const reply = await greeter.sayHello({ name: process.argv[2] ?? 'world' });
console.log(`Greeter client received: ${reply.message}`);

channel.close();
await srv.stop(1);
