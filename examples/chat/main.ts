// A bidi chat: the handler is an async function* over the incoming messages, the client
// composes the call with it-pipe, and a client that leaves mid-stream is noticed by the
// server through context.signal.
//   node --import tsx examples/chat/main.ts
// (In your own project, import from 'grpc-iter'.)
import { pipe } from 'it-pipe';
import { pushable } from 'it-pushable';
import {
  RpcError,
  StatusCode,
  insecureChannel,
  methodHandlersGenericHandler,
  server,
  streamStreamRpcMethodHandler,
} from '../../lib/index.js';

const encode = (s: string): Uint8Array => Buffer.from(s);
const decode = (b: Uint8Array): string => Buffer.from(b).toString();

let left!: () => void;
const someoneLeft = new Promise<void>((resolve) => (left = resolve));

const srv = server();
srv.addGenericRpcHandlers([
  methodHandlersGenericHandler('chat.Room', {
    Talk: streamStreamRpcMethodHandler(async function* (messages: AsyncIterable<string>, context) {
      // Runs when the client cancels or disconnects, not when the chat ends normally.
      context.signal.addEventListener('abort', () => {
        console.log(`server: the client left (${String((context.signal.reason as Error).message)})`);
        left();
      });
      for await (const text of messages) yield `echo: ${text}`;
    }, decode, encode),
  }),
]);
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();

const channel = insecureChannel(`127.0.0.1:${port}`);
const talk = channel.streamStream('/chat.Room/Talk', encode, decode);

// 1. A whole conversation through it-pipe: source → call → sink.
const transcript = await pipe(
  ['hi', 'how are you?', 'bye'],
  (messages) => talk(messages),
  async (replies) => {
    const lines: string[] = [];
    for await (const r of replies) lines.push(r);
    return lines;
  },
);
console.log(`client: ${transcript.join(' | ')}`);

// 2. A client that types as it goes (an it-pushable source) and leaves mid-stream.
const typing = pushable<string>({ objectMode: true });
const controller = new AbortController();
const replies = talk(typing, { signal: controller.signal });
typing.push('first line');
try {
  for await (const reply of replies) {
    console.log(`client: ${reply}`);
    controller.abort(); // leave without saying goodbye
  }
} catch (err) {
  // A cancelled call ends its response stream with CANCELLED, never as a normal end.
  if (!(err instanceof RpcError) || err.code !== StatusCode.CANCELLED) throw err;
  console.log('client: left the chat (CANCELLED)');
}
await someoneLeft;
typing.end();

channel.close();
await srv.stop(1);
