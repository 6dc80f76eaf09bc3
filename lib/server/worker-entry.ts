/*
 * The module each worker thread of a worker pool runs (piscina's task function). It loads the
 * user's handler module once, then runs each call it is given with the main thread's
 * dispatcher over a WorkerCallPort: decode, the handler, encode, all in this thread.
 */
import { workerData } from 'node:worker_threads';
import { StatusCode } from '../protocol/index.js';
import { ServerContext } from './context.js';
import { runCall } from './dispatch.js';
import { WorkerCallPort } from './worker-call-port.js';
import { loadWorkerModule, type LoadedModule } from './worker-module.js';
import type { CallTask, Description, DescribeTask } from './worker-protocol.js';

let loaded: Promise<LoadedModule> | undefined;

/**
 * Runs one call (or, for a DescribeTask, tells which methods the module serves). Settles when
 * the handler has ended; never rejects for a call.
 * @internal
 */
export default async function runTask(task: CallTask | DescribeTask): Promise<Description | undefined> {
  const module = await (loaded ??= loadWorkerModule((workerData as { module: string }).module));
  if ('describe' in task) return module.description;
  const port = new WorkerCallPort(task);
  try {
    // A call cancelled while it waited in the queue has its CANCEL here already: do not start it.
    port.drain();
    if (!port.active) return undefined;
    const invoker = module.invokers.get(task.path);
    if (invoker === undefined) {
      port.finish(StatusCode.UNIMPLEMENTED, `Method not found: ${task.path}`);
      return undefined;
    }
    await runCall(port, new ServerContext(port), invoker, (error) => port.report(error));
  } finally {
    port.close();
  }
  return undefined;
}
