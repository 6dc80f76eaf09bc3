import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { RpcError, StatusCode, createClient, insecureChannel } from '../../lib/index.js';
import { Greeter } from '../../examples/proto/generated/greeter.js';

/** The child's stdout as lines, read in order: each wait starts after the line the last one matched. */
class Lines {
  readonly #lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  #cursor = 0;
  #partial = '';

  push(chunk: string): void {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop() ?? '';
    this.#lines.push(...parts);
    for (const wake of [...this.#waiters]) wake();
  }

  get text(): string {
    return [...this.#lines, this.#partial].join('\n');
  }

  /** Resolves to the first line from the cursor on matching `pattern`, or rejects after `ms`. */
  next(pattern: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        for (; this.#cursor < this.#lines.length; this.#cursor++) {
          const match = this.#lines[this.#cursor]!.match(pattern);
          if (match === null) continue;
          this.#cursor++;
          done();
          resolve(match);
          return;
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Cannot find ${String(pattern)} within ${ms} ms in:\n${this.text}`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/** One call on a new channel (so a new connection), answered with the worker's pid. */
async function callOnNewConnection(port: number, request: { name: string; delayMs?: number }, timeout = 5): Promise<number> {
  const channel = insecureChannel(`127.0.0.1:${port}`);
  try {
    const reply = await createClient(Greeter, channel).sayHello(request, { timeout });
    const pid = /from worker (\d+)$/.exec(reply.message ?? '')?.[1];
    assert.ok(pid !== undefined, `unexpected reply "${reply.message}"`);
    return Number(pid);
  } finally {
    channel.close();
  }
}

function refusedOrConnected(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('examples/cluster: one port served by node:cluster workers', () => {
  let child: ChildProcess;
  const out = new Lines();
  let port = 0;
  let workers: number[] = [];
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  before(async () => {
    // Without NODE_TEST_CONTEXT the child is a plain program, not a test reporting to this runner.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    child = spawn(process.execPath, ['--import', 'tsx', 'examples/cluster/server.ts', '--workers', '2', '--host', '127.0.0.1', '--port', '0', '--grace', '5'], {
      env,
      // Its own process group, so clean-up can end the primary and its workers together.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    port = Number((await out.next(/^primary \d+: forking 2 workers for 127\.0\.0\.1:(\d+)$/))[1]);
    for (let i = 0; i < 2; i++) workers.push(Number((await out.next(/^primary: worker (\d+) listening on /))[1]));
  });

  after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });

  it('answers calls from separate connections with both workers', async () => {
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) pids.add(await callOnNewConnection(port, { name: `c${i}` }));
    assert.deepEqual([...pids].sort(), [...workers].sort(), out.text);
  });

  it('replaces a worker killed with SIGKILL, and calls succeed again', async () => {
    const [killed, survivor] = workers as [number, number];
    process.kill(killed, 'SIGKILL');
    await out.next(new RegExp(`^primary: worker ${killed} died \\(SIGKILL\\); forking a replacement$`));
    const replacement = Number((await out.next(/^primary: worker (\d+) listening on /))[1]);
    assert.notEqual(replacement, killed);
    workers = [survivor, replacement];
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) pids.add(await callOnNewConnection(port, { name: `r${i}` }));
    assert.deepEqual([...pids].sort(), [...workers].sort(), out.text);
  });

  it('on SIGTERM finishes the call in flight, refuses new connections, and the primary exits 0', async () => {
    let longSettled = false;
    const long = callOnNewConnection(port, { name: 'long', delayMs: 3000 }, 10).finally(() => (longSettled = true));
    const holder = Number((await out.next(/^worker (\d+): holding a call for 3000 ms$/))[1]);
    child.kill('SIGTERM');
    await out.next(/^primary: SIGTERM, stopping 2 workers \(grace 5 s\)$/);
    await out.next(/^primary: no worker accepts connections now; in-flight calls are draining$/);

    // The listener is closed while the long call still runs: a new connection is refused, and
    // a gRPC call on one fails UNAVAILABLE at once.
    assert.equal(await refusedOrConnected(port), 'ECONNREFUSED');
    await assert.rejects(callOnNewConnection(port, { name: 'late' }, 2), (err: unknown) => err instanceof RpcError && err.code === StatusCode.UNAVAILABLE);
    assert.equal(longSettled, false, 'the long call ended before the refusals were checked');

    assert.equal(await long, holder);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000)));
    const result = await Promise.race([exited, bound]);
    clearTimeout(timer);
    assert.deepEqual(result, { code: 0, signal: null }, out.text);
    assert.match(out.text, /^primary: all workers stopped$/m);
  });
});
