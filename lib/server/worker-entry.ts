/*
 * The script each worker thread of a worker pool runs. It loads the user's handler module, tells
 * the main thread what it serves, then runs the calls it is given, one at a time, with the main
 * thread's dispatcher over a WorkerCallPort: decode, the handler, encode, all in this thread.
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { StatusCode } from '../protocol/index.js';
import { ServerContext } from './context.js';
import { runCall } from './dispatch.js';
import { WorkerCallPort, type WorkerLink } from './worker-call-port.js';
import { loadWorkerModule, type LoadedModule } from './worker-module.js';
import { DONE, END, LOAD_FAILED, NO_CLAIM, READY, START, type CallTask, type FromWorker, type StartMessage, type ToWorker, type WorkerData, type WorkerState } from './worker-protocol.js';

const channel = toMain();
const data = workerData as WorkerData;
const claims = new Int32Array(data.claims);

let current: WorkerCallPort | undefined;
// A call sent ahead while this worker ran another: it starts when that one's handler returns.
let next: StartMessage | undefined;

// A call's status held until the end of the event-loop turn it was sent in, or until its
// handler returns if that is sooner (the common case): then END and DONE cross as one message,
// and the main thread wakes once for them.
let held: { message: FromWorker & { t: typeof END }; transfer: ArrayBuffer[] } | undefined;
let heldTimer: NodeJS.Immediate | undefined;

/** Posts the held status, if any; `done` says the handler has returned as well. */
function release(done = false): void {
  if (held === undefined) return;
  const { message, transfer } = held;
  held = undefined;
  clearImmediate(heldTimer);
  channel.postMessage(done ? { ...message, done } : message, transfer);
}

const link: WorkerLink = {
  post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
    release();
    channel.postMessage(message, transfer);
  },
  end(message: FromWorker & { t: typeof END }, transfer: ArrayBuffer[]): void {
    release();
    held = { message, transfer };
    heldTimer = setImmediate(() => release());
  },
  drain(): void {
    for (let m = receiveMessageOnPort(channel); m !== undefined; m = receiveMessageOnPort(channel)) route(m.message as ToWorker);
  },
};

function route(message: ToWorker): void {
  if (message.t === START) {
    if (current === undefined) start(message);
    else next = message;
  } else if (current !== undefined && message.id === current.id) {
    current.receive(message);
  }
  // Any other message is of a call that has ended (a late ACK or CANCEL): no one to go to.
}

/** Runs a call, unless it was sent ahead and the main thread has taken it back. */
function start(message: StartMessage): void {
  if (message.claim !== NO_CLAIM && Atomics.compareExchange(claims, message.claim, message.id, 0) !== message.id) return;
  run(message.id, message.task);
}

// A plain function, not an async one: the behavior runs inside it (see runCall).
function run(id: number, task: CallTask): void {
  const port = new WorkerCallPort(id, task, link);
  current = port;
  // A call cancelled as it was handed over has its CANCEL queued already: do not start it.
  link.drain();
  const invoker = module.invokers.get(task.path);
  if (!port.active) {
    done(id);
  } else if (invoker === undefined) {
    port.finish(StatusCode.UNIMPLEMENTED, `Method not found: ${task.path}`);
    done(id);
  } else {
    // runCall never rejects.
    void runCall(port, new ServerContext(port), invoker, (error) => port.report(error)).then(() => done(id));
  }
}

/** The call's handler has returned: the main thread hears so; the call sent ahead, if any, starts. */
function done(id: number): void {
  current = undefined;
  if (held?.message.id === id) release(true);
  else link.post({ t: DONE, id });
  const ahead = next;
  next = undefined;
  if (ahead !== undefined) start(ahead);
}

// On Linux a thread has a nice value and a scheduling policy of its own: these lower this
// worker's priority only (under SCHED_IDLE the nice value no longer counts).
if (data.niceIncrement > 0) setPriority(0, Math.min(19, getPriority(0) + data.niceIncrement));
const warning = data.idlePolicy ? idlePolicy() : undefined;

/** Puts this thread under SCHED_IDLE; if that fails, a warning saying why. */
function idlePolicy(): string | undefined {
  const instead = data.niceIncrement > 0 ? `with niceIncrement ${data.niceIncrement}` : 'at normal priority';
  const cannot = (why: string): string => `Cannot run worker threads under SCHED_IDLE (with util-linux chrt): ${why}; they run ${instead} instead`;
  try {
    // /proc names processes by the ids of the PID namespace it was mounted in: where that is not
    // this process's, the thread's id read there would name another thread to chrt.
    if (readlinkSync('/proc/self') !== String(process.pid)) return cannot('/proc belongs to another PID namespace');
    // "<pid>/task/<tid>": the thread's own id, which chrt takes for a pid.
    const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
    execFileSync('chrt', ['--idle', '--pid', '0', tid], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
    return undefined;
  } catch (err) {
    const { stderr, status } = err as { stderr?: Buffer; status?: number | null };
    const said = stderr?.toString().trim();
    return cannot(said ? `chrt exited with code ${status}: ${said}` : err instanceof Error ? err.message : String(err));
  }
}

function toMain(): MessagePort {
  if (parentPort === null) throw new Error('worker-entry runs in a worker thread of a worker pool');
  return parentPort;
}

let module: LoadedModule;
try {
  module = await loadWorkerModule(data.module);
} catch (error) {
  try {
    channel.postMessage({ t: LOAD_FAILED, error } satisfies WorkerState);
  } catch {
    // Not cloneable: its text still reaches the main thread.
    channel.postMessage({ t: LOAD_FAILED, error: new Error(String(error)) } satisfies WorkerState);
  }
  process.exit(1);
}
channel.on('message', route);
channel.postMessage({ t: READY, description: module.description, warning } satisfies WorkerState);
