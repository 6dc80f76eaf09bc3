// The CPU-bound service, served from worker threads: this module is loaded in each worker of
// the pool (closures cannot cross threads), and its default export lists its services.
import { createHash } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { unaryUnaryRpcMethodHandler, type ServicerContext, type WorkerServices } from '../../lib/index.js';

const text = new TextDecoder();
const bytes = new TextEncoder();

/** Hashes the request `rounds` times over: a few tens of milliseconds of pure CPU. */
function stretch(input: string, rounds: number, context: ServicerContext): string {
  let digest = Buffer.from(input);
  for (let i = 0; i < rounds; i++) {
    // A CPU-bound loop never yields, but isActive() still sees a cancel or a passed deadline.
    if (i % 10_000 === 0 && !context.isActive()) break;
    digest = createHash('sha256').update(digest).digest();
  }
  return digest.toString('hex').slice(0, 16);
}

export default [
  {
    serviceName: 'example.Hasher',
    methodHandlers: {
      Stretch: unaryUnaryRpcMethodHandler(
        (input: string, context: ServicerContext) => `${stretch(input, 30_000, context)} (thread ${threadId})`,
        (b: Uint8Array) => text.decode(b),
        (s: string) => bytes.encode(s),
      ),
    },
  },
] satisfies WorkerServices;
