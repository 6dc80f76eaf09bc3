// Replicas of one service on 127.0.0.1, 127.0.0.2 and 127.0.0.3 at one port, each either a
// grpc-iter server or a @grpc/grpc-js server, that can be stopped gracefully and started again
// at the same address. Every answer names the replica and its generation ("127.0.0.2#1"), and
// each server counts what it answered (but not `Name`, a probe's method), so a test can tell
// where every call went. Requests are never empty: grpc-js takes an empty string message for
// no message at all and fails a server-streaming call UNIMPLEMENTED.
import * as grpc from '@grpc/grpc-js';
import { methodHandlersGenericHandler, server, unaryStreamRpcMethodHandler, unaryUnaryRpcMethodHandler, type Server } from '../../lib/index.js';
import { decode, encode, stringMethods } from './grpc.js';

/** The loopback addresses the replicas listen on, in the order a target lists them. */
export const REPLICA_HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'] as const;

/** Messages a `Ticks` call streams, and the gap between them. */
export const TICKS = 5;
const TICK_GAP_MS = 10;

/** Which implementation serves. */
export type ReplicaKind = 'grpc-iter' | 'grpc-js';

/** One running server of a replica. */
interface Running {
  /** Stops accepting calls, lets those in flight finish for `graceSeconds`, then cancels them. */
  stop(graceSeconds: number): Promise<void>;
}

/** One address of the service, restartable. */
export interface Replica {
  readonly host: string;
  readonly port: number;
  /** How many servers have been started at this address so far (the current one is `generation - 1`). */
  readonly generation: number;
  /** The name answers carry: `host#generation` of the server that answered. */
  readonly name: string;
  /** Starts a new server at the address. */
  start(): Promise<void>;
  /** Stops the current server gracefully (GOAWAY, calls in flight finish within the grace). */
  stop(graceSeconds: number): Promise<void>;
}

/** Three replicas and what their servers answered, by `host#generation`. */
export interface ReplicaSet {
  readonly replicas: readonly Replica[];
  readonly port: number;
  /** Calls each server answered (unary answers and finished streams), by name. */
  readonly served: Map<string, number>;
  /** `ipv4:127.0.0.1:P,127.0.0.2:P,127.0.0.3:P`. */
  readonly target: string;
  /** Stops every replica still running, at once. */
  close(): Promise<void>;
}

/** Starts the three replicas on a port free on all three addresses. */
export async function startReplicas(kind: ReplicaKind): Promise<ReplicaSet> {
  for (let tries = 0; ; tries++) {
    const served = new Map<string, number>();
    const first = makeReplica(kind, REPLICA_HOSTS[0], 0, served);
    await first.start();
    const replicas = [first, ...REPLICA_HOSTS.slice(1).map((host) => makeReplica(kind, host, first.port, served))];
    try {
      for (const r of replicas.slice(1)) await r.start();
    } catch (err) {
      // The port was taken on another loopback address: try another one.
      await Promise.all(replicas.map((r) => r.stop(0)));
      if (tries >= 4) throw err;
      continue;
    }
    return {
      replicas,
      port: first.port,
      served,
      target: `ipv4:${replicas.map((r) => `${r.host}:${first.port}`).join(',')}`,
      close: async () => {
        await Promise.all(replicas.map((r) => r.stop(0)));
      },
    };
  }
}

function makeReplica(kind: ReplicaKind, host: string, initialPort: number, served: Map<string, number>): Replica {
  let port = initialPort;
  let generation = 0;
  let running: Running | undefined;
  const replica: Replica = {
    host,
    get port() {
      return port;
    },
    get generation() {
      return generation;
    },
    get name() {
      return `${host}#${generation - 1}`;
    },
    async start() {
      const name = `${host}#${generation}`;
      const count = (): void => void served.set(name, (served.get(name) ?? 0) + 1);
      const started = kind === 'grpc-iter' ? await startOurs(host, port, name, count) : await startJs(host, port, name, count);
      port = started.port;
      running = started.running;
      generation++;
    },
    async stop(graceSeconds) {
      const r = running;
      running = undefined;
      if (r !== undefined) await r.stop(graceSeconds);
    },
  };
  return replica;
}

async function startOurs(host: string, port: number, name: string, count: () => void): Promise<{ port: number; running: Running }> {
  const srv: Server = server({ onHandlerError: () => undefined });
  srv.addGenericRpcHandlers([
    methodHandlersGenericHandler('test.Svc', {
      Who: unaryUnaryRpcMethodHandler(() => {
        count();
        return name;
      }, decode, encode),
      Name: unaryUnaryRpcMethodHandler(() => name, decode, encode),
      Ticks: unaryStreamRpcMethodHandler(async function* () {
        for (let i = 0; i < TICKS; i++) {
          if (i > 0) await new Promise((resolve) => setTimeout(resolve, TICK_GAP_MS));
          yield name;
        }
        count();
      }, decode, encode),
    }),
  ]);
  let bound: number;
  try {
    bound = await srv.addInsecurePort(`${host}:${port}`);
    await srv.start();
  } catch (err) {
    await srv.stop(null);
    throw err;
  }
  return { port: bound, running: { stop: (grace) => srv.stop(grace) } };
}

async function startJs(host: string, port: number, name: string, count: () => void): Promise<{ port: number; running: Running }> {
  const srv = new grpc.Server();
  srv.addService(stringMethods({ Who: 'unary', Name: 'unary', Ticks: 'serverStream' }, 'test.Svc'), {
    Who: ((_call, callback) => {
      count();
      callback(null, name);
    }) satisfies grpc.handleUnaryCall<string, string>,
    Name: ((_call, callback) => callback(null, name)) satisfies grpc.handleUnaryCall<string, string>,
    Ticks: ((call) => {
      let i = 0;
      const tick = (): void => {
        if (call.cancelled) return; // a call the client left is not counted as answered
        call.write(name);
        if (++i < TICKS) setTimeout(tick, TICK_GAP_MS);
        else {
          count();
          call.end();
        }
      };
      tick();
    }) satisfies grpc.handleServerStreamingCall<string, string>,
  });
  const bound = await new Promise<number>((resolve, reject) =>
    srv.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((err: unknown) => {
    srv.forceShutdown();
    throw err;
  });
  return {
    port: bound,
    running: {
      // grpc-js has no grace of its own: tryShutdown (GOAWAY, calls finish), forced after the grace.
      stop: (grace) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => srv.forceShutdown(), grace * 1000);
          srv.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
          if (grace === 0) srv.forceShutdown();
        }),
    },
  };
}
