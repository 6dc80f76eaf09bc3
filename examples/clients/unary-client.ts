// A unary client: await the answer, read metadata and status with withCall, handle an error
// status. It starts the greeter server in-process so it runs on its own:
//   node --import tsx examples/clients/unary-client.ts
// (In your own project, import from 'grpc-iter'.)
import { RpcError, StatusCode, insecureChannel } from '../../lib/index.js';
import { fromJson, startGreeter, toJson, type HelloReply, type HelloRequest } from '../greeter/server.js';

const { srv, port } = await startGreeter();
const channel = insecureChannel(`127.0.0.1:${port}`);
const sayHello = channel.unaryUnary<HelloRequest, HelloReply>('/demo.Greeter/SayHello', toJson, fromJson);
try {
  const reply = await sayHello({ name: 'unary' }, { timeout: 5, metadata: { 'x-request-id': '42' } });
  console.log(`reply: ${reply.message}`);

  const full = await sayHello.withCall({ name: 'again' });
  console.log(`withCall: ${full.response.message} (status ${full.code})`);

  try {
    await sayHello({ name: '' });
  } catch (err) {
    if (!(err instanceof RpcError) || err.code !== StatusCode.INVALID_ARGUMENT) throw err;
    console.log(`error status: INVALID_ARGUMENT "${err.details}"`);
  }
} finally {
  channel.close();
  await srv.stop(1);
}
