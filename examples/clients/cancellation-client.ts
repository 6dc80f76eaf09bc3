// Cancellation with AbortSignal: a deadline, an AbortController, and leaving a stream early.
// The server's handler sees each cancellation through its context.signal.
//   node --import tsx examples/clients/cancellation-client.ts
import { RpcError, StatusCode, insecureChannel } from '../../lib/index.js';
import { fromJson, startGreeter, toJson, type HelloReply } from '../greeter/server.js';

const { srv, port } = await startGreeter();
const channel = insecureChannel(`127.0.0.1:${port}`);
const countTo = channel.unaryStream<{ n: number }, HelloReply>('/demo.Greeter/CountTo', toJson, fromJson);
try {
  // 1. A deadline: counting to 100 at 50 ms a step cannot finish in 0.2 s.
  try {
    for await (const _ of countTo({ n: 100 }, { timeout: 0.2 }));
  } catch (err) {
    if (!(err instanceof RpcError) || err.code !== StatusCode.DEADLINE_EXCEEDED) throw err;
    console.log('deadline: DEADLINE_EXCEEDED');
  }

  // 2. An AbortController: the user gave up.
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 120);
  try {
    for await (const _ of countTo({ n: 100 }, { signal: controller.signal }));
  } catch (err) {
    if (!(err instanceof RpcError) || err.code !== StatusCode.CANCELLED) throw err;
    console.log('abort: CANCELLED');
  }

  // 3. Leaving the loop: breaking out cancels the call.
  const call = countTo({ n: 100 });
  for await (const reply of call) if (reply.message === '2') break;
  console.log(`break: ${await call.code() === StatusCode.CANCELLED ? 'CANCELLED' : 'unexpected'}`);
} finally {
  channel.close();
  await srv.stop(1);
}
