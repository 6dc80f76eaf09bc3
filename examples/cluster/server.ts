// One port, several processes: node:cluster forks N workers, each a grpc-iter server with the
// health service, all listening on the same port. SIGTERM to the primary stops every worker
// gracefully; a worker that dies on its own is replaced.
//   node --import tsx examples/cluster/server.ts [--workers N] [--host 0.0.0.0] [--port 50051] [--grace 10]
//     [--max-connection-age-ms MS]
// (In your own project, import from 'grpc-iter', 'grpc-iter/health', 'grpc-iter/reflection' and
// 'abort-controller-x'.)
import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { delay } from 'abort-controller-x';
import { server } from '../../lib/index.js';
import { HealthServicer, ServingStatus, addHealthServicer } from '../../lib/services/health/index.js';
import { addReflection } from '../../lib/services/reflection/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

const { values: flags } = parseArgs({
  options: {
    workers: { type: 'string', default: String(os.availableParallelism()) },
    host: { type: 'string', default: '0.0.0.0' },
    port: { type: 'string', default: '50051' },
    grace: { type: 'string', default: '10' },
    'max-connection-age-ms': { type: 'string' },
  },
});
const workers = Number(flags.workers);
const grace = Number(flags.grace);
if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`Cannot start: --workers must be a positive integer, got "${flags.workers}"`);
if (!(grace >= 0)) throw new RangeError(`Cannot start: --grace must be a number of seconds, got "${flags.grace}"`);
const maxConnectionAgeMs = flags['max-connection-age-ms'] === undefined ? undefined : Number(flags['max-connection-age-ms']);
if (maxConnectionAgeMs !== undefined && !(maxConnectionAgeMs > 0)) {
  throw new RangeError(`Cannot start: --max-connection-age-ms must be a positive number, got "${flags['max-connection-age-ms']}"`);
}

/** What a worker tells the primary over the cluster IPC channel. */
type WorkerMessage = { type: 'listening'; port: number } | { type: 'stopping' };

// The primary resolves the port once and hands the same one to every worker (in the
// environment), so a worker forked later binds where the others are, even with --port 0.
const PORT_ENV = 'GREETER_CLUSTER_PORT';

if (cluster.isPrimary) await runPrimary();
else await runWorker();

async function runPrimary(): Promise<void> {
  const port = Number(flags.port) === 0 ? await freePort(flags.host) : Number(flags.port);
  let shuttingDown = false;
  let failedExits = 0;
  let refork: NodeJS.Timeout | undefined;
  // Workers by pid, from fork to their 'exit' event (cluster.workers drops a worker only once
  // both its exit and its IPC disconnect are seen, in either order).
  const live = new Map<number, Worker>();
  const listening = new Set<number>();
  const stopping = new Set<number>();

  const fork = (): void => {
    refork = undefined;
    const worker = cluster.fork({ [PORT_ENV]: String(port) });
    if (worker.process.pid !== undefined) live.set(worker.process.pid, worker);
  };
  const exitWhenAllGone = (): void => {
    if (live.size > 0) return;
    console.log('primary: all workers stopped');
    process.exit(failedExits === 0 ? 0 : 1);
  };

  cluster.on('message', (worker: Worker, message: WorkerMessage) => {
    const pid = worker.process.pid ?? 0;
    if (message.type === 'listening') {
      listening.add(pid);
      console.log(`primary: worker ${pid} listening on ${flags.host}:${message.port}`);
      return;
    }
    // The worker closed its listener before sending this (on the same IPC channel), so the
    // primary has taken it out of the connection rotation by now.
    stopping.add(pid);
    if ([...listening].every((p) => stopping.has(p))) console.log('primary: no worker accepts connections now; in-flight calls are draining');
  });

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const pid = worker.process.pid ?? 0;
    live.delete(pid);
    const wasListening = listening.delete(pid);
    stopping.delete(pid);
    const how = signal !== null ? signal : `code ${code ?? 0}`;
    if (shuttingDown) {
      if (code !== 0) failedExits++;
      console.log(`primary: worker ${pid} exited (${how})`);
      exitWhenAllGone();
      return;
    }
    // A worker that died before it listened (a bad port, a crash at start-up) is re-forked
    // after a second, so a fault that kills every new worker does not spin the CPU.
    console.log(`primary: worker ${pid} died (${how}); forking a replacement`);
    if (wasListening) fork();
    else refork ??= setTimeout(fork, 1000);
  });

  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    clearTimeout(refork);
    console.log(`primary: ${signal}, stopping ${live.size} workers (grace ${grace} s)`);
    // The orchestrator signals the primary only (Kubernetes and Docker signal PID 1), so it
    // passes the signal on. worker.kill() is not used: it disconnects first, which closes the
    // worker's servers without stop(grace).
    for (const w of live.values()) w.process.kill('SIGTERM');
    // stop(grace) settles within grace + 0.5 s; a worker still there long after is stuck.
    setTimeout(() => {
      for (const w of live.values()) w.process.kill('SIGKILL');
    }, (grace + 5) * 1000).unref();
    exitWhenAllGone();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  console.log(`primary ${process.pid}: forking ${workers} workers for ${flags.host}:${port}`);
  for (let i = 0; i < workers; i++) fork();
}

async function runWorker(): Promise<void> {
  // A connection older than the age limit gets GOAWAY (doc/keepalive.md's server-side
  // MAX_CONNECTION_AGE): its client reconnects, re-resolves DNS and so finds new replicas.
  const srv = server(maxConnectionAgeMs === undefined ? {} : { options: { 'grpc.max_connection_age_ms': maxConnectionAgeMs } });
  const health = new HealthServicer();
  let stopped: Promise<void> | undefined;
  const stop = (): void => {
    if (stopped !== undefined) return;
    // Health first: clients watching on a connection that stays open for the grace see
    // NOT_SERVING; stop() then closes the listener and sends GOAWAY, and in-flight calls finish.
    health.enterGracefulShutdown();
    stopped = srv.stop(grace);
    process.send?.({ type: 'stopping' } satisfies WorkerMessage);
    void stopped.then(() => process.exit(0));
  };
  // Installed before listening: a SIGTERM during start-up still stops the worker cleanly.
  // SIGINT reaches workers too when Ctrl-C signals the whole process group.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  srv.addService(Greeter, {
    async sayHello(request, context) {
      const ms = request.delayMs ?? 0;
      if (ms > 0) {
        console.log(`worker ${process.pid}: holding a call for ${ms} ms`);
        await delay(context.signal, ms);
      }
      return { message: `Hello ${request.name ?? ''} from worker ${process.pid}` };
    },
    async *sayHellos(request, context) {
      for (let i = 1; i <= (request.count ?? 1); i++) {
        if (i > 1) await delay(context.signal, request.delayMs ?? 0);
        yield { message: `Hello #${i} ${request.name ?? ''} from worker ${process.pid}` };
      }
    },
  } satisfies GreeterServer);
  addHealthServicer(srv, health);
  health.set('greeter.v1.Greeter', ServingStatus.SERVING);
  // Reflection, so `grpcurl -plaintext localhost:50051 list` works without the .proto.
  addReflection(srv);

  // In a worker, listen() asks the primary for the port: the primary owns the socket and hands
  // each accepted connection to one worker in turn (cluster.SCHED_RR, the default off Windows).
  const port = await srv.addInsecurePort(`${flags.host}:${process.env[PORT_ENV] ?? flags.port}`);
  if (stopped !== undefined) return;
  await srv.start();
  process.send?.({ type: 'listening', port } satisfies WorkerMessage);
}

/** A port free on `host` now, for --port 0 (a race with other programs binding it is possible). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host.replace(/^\[(.*)\]$/, '$1'), () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
