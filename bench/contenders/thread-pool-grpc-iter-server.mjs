// The thread-pool workload on grpc-iter (the compiled dist/): bench.Work/Burn and bench.Work/Nothing
// served by a pool of worker threads (`workers`) or on the main thread (`main`), beside a cheap
// unary call and the health service that always stay on the main thread.
//   node thread-pool-grpc-iter-server.mjs <workers|main> [maxWorkers] [niceIncrement (default: the pool's)] [schedulingPolicy]
import { methodHandlersGenericHandler, server, unaryUnaryRpcMethodHandler } from '../../dist/index.js';
import { HealthServicer, addHealthServicer } from '../../dist/services/health/index.js';
import { burn, calibrate } from './thread-pool-work.mjs';
import { serve } from './control.mjs';

const [mode = 'workers', maxWorkers = '2', niceIncrement = '', schedulingPolicy] = process.argv.slice(2);
const iterations = calibrate();
const nothing = new Uint8Array(0);
const srv = server({ options: { 'grpc.max_concurrent_streams': 100_000 } });
srv.addGenericRpcHandlers([methodHandlersGenericHandler('bench.Cheap', { Ping: unaryUnaryRpcMethodHandler(() => nothing) })]);
addHealthServicer(srv, new HealthServicer());
if (mode === 'workers') {
  const n = Number(maxWorkers);
  await srv.addWorkerHandlers(new URL('./thread-pool-handlers.mjs', import.meta.url), {
    maxWorkers: n,
    minWorkers: n,
    ...(niceIncrement === '' ? {} : { niceIncrement: Number(niceIncrement) }),
    ...(schedulingPolicy === undefined ? {} : { schedulingPolicy }),
  });
} else {
  srv.addGenericRpcHandlers([
    methodHandlersGenericHandler('bench.Work', {
      Burn: unaryUnaryRpcMethodHandler(() => burn(iterations)),
      Nothing: unaryUnaryRpcMethodHandler(() => nothing),
    }),
  ]);
}
const port = await srv.addInsecurePort('127.0.0.1:0');
await srv.start();
console.error(`grpc-iter (${mode}): ${iterations} iterations per call`);
serve(port, () => srv.stop(null));
