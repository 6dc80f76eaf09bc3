// Two grpc-iter replicas of the greeter, for nginx (./nginx.conf) to balance, and a client that
// calls them through nginx. Each answer names its replica in the `x-replica` response header and
// the client nginx saw (X-Forwarded-For).
//   node --import tsx examples/nginx/main.ts                          # replicas on 127.0.0.1:50051, :50052, until Ctrl-C
//   node --import tsx examples/nginx/main.ts --call 127.0.0.1:8080    # the client: calls through nginx, then exits
// `--ports 6001,6002` puts the replicas elsewhere (change nginx.conf's upstream to match).
// (In your own project, import from 'grpc-iter' and 'abort-controller-x'.)
import { parseArgs } from 'node:util';
import { delay } from 'abort-controller-x';
import { RpcError, createClient, insecureChannel, server, statusCodeName, type Server } from '../../lib/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

const { values } = parseArgs({ options: { ports: { type: 'string', default: '50051,50052' }, call: { type: 'string' } } });
const ports = values.ports.split(',').map(Number);

async function startReplica(name: string, port: number): Promise<Server> {
  const greeter: GreeterServer = {
    async sayHello(request, context) {
      context.sendInitialMetadata({ 'x-replica': name });
      await delay(context.signal, request.delayMs ?? 0); // a deadline forwarded by nginx (grpc-timeout) ends the wait
      return { message: `Hello ${request.name}, from replica ${name} (client ${String(context.invocationMetadata().get('x-forwarded-for') ?? 'direct')})` };
    },
    async *sayHellos(request, context) {
      context.sendInitialMetadata({ 'x-replica': name });
      for (let i = 1; i <= (request.count ?? 0); i++) yield { message: `Hello ${request.name} #${i}, from replica ${name}` };
    },
  };
  // On SIGTERM a replica stops taking new calls and lets those in flight finish: see the README
  // for taking it out of nginx's upstream first.
  const srv = server();
  srv.addService(Greeter, greeter);
  await srv.addInsecurePort(`127.0.0.1:${port}`);
  await srv.start();
  return srv;
}

if (values.call === undefined) {
  const replicas = await Promise.all(ports.map((port, i) => startReplica(String.fromCharCode(65 + i), port)));
  console.log(`replicas: ${ports.map((port, i) => `${String.fromCharCode(65 + i)} on 127.0.0.1:${port}`).join(', ')}`);
  console.log('now run nginx in front of them (from the repository root):');
  console.log('  mkdir -p /tmp/grpc-iter-nginx');
  console.log(`  nginx -p /tmp/grpc-iter-nginx -c "$PWD/examples/nginx/nginx.conf" -g 'daemon off;'`);
  console.log('and call through it:');
  console.log('  node --import tsx examples/nginx/main.ts --call 127.0.0.1:8080');
  const stop = (): void => {
    void Promise.all(replicas.map((srv) => srv.stop(5))).then(() => console.log('replicas stopped'));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} else {
  const channel = insecureChannel(values.call);
  const client = createClient(Greeter, channel);
  for (let i = 1; i <= 4; i++) {
    const { response, initialMetadata } = await client.sayHello.withCall({ name: `call ${i}` }, { timeout: 5 });
    console.log(`SayHello via nginx -> ${String(initialMetadata.get('x-replica'))}: ${response.message}`);
  }
  const stream = client.sayHellos({ name: 'stream', count: 3 }, { timeout: 5 });
  const messages: string[] = [];
  for await (const { message } of stream) messages.push(message ?? '');
  console.log(`SayHellos via nginx -> ${String((await stream.initialMetadata()).get('x-replica'))}: ${messages.length} messages`);
  try {
    await client.sayHello({ name: 'slow', delayMs: 5000 }, { timeout: 0.3 });
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    console.log(`a 0.3 s deadline through nginx: ${statusCodeName(err.code)}`);
  }
  channel.close();
}
