// A real nginx (Debian's /usr/sbin/nginx) for tests: the example configuration with its ports
// replaced, run in the foreground as the current user with every file under a temporary prefix.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's nginx packages (`nginx-full`, `nginx-light`, `nginx`) install the binary. */
export const NGINX = '/usr/sbin/nginx';

/** The configuration `examples/nginx/` ships. */
export const EXAMPLE_CONF = new URL('../../examples/nginx/nginx.conf', import.meta.url);

/** A running nginx. */
export interface Nginx {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** Its error log so far (for assertion messages). */
  errorLog(): string;
  /**
   * Loads `conf` as `nginx -s reload` does (SIGHUP to the master) and resolves once every
   * worker of the old configuration has exited, so none still sends calls by it.
   */
  reload(conf: string): Promise<void>;
  /** Stops it (SIGQUIT: finish what is in flight), SIGKILL after 5 s; removes its files. */
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 just now (nginx binds it itself). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * The example configuration, listening on `listenPort`, with the replica addresses
 * `127.0.0.1:50051`, `127.0.0.1:50052` replaced by `upstreams` (in order).
 */
export function exampleConfig(listenPort: number, upstreams: readonly string[]): string {
  let conf = readFileSync(EXAMPLE_CONF, 'utf8');
  const listen = /listen 127\.0\.0\.1:8080 http2;/;
  if (!listen.test(conf)) throw new Error('Cannot adapt the example nginx.conf: no "listen 127.0.0.1:8080 http2;"');
  conf = conf.replace(listen, `listen 127.0.0.1:${listenPort} http2;`);
  const servers = [...conf.matchAll(/^ *server 127\.0\.0\.1:5005\d .*;$/gm)];
  if (servers.length !== upstreams.length) throw new Error(`Cannot adapt the example nginx.conf: ${servers.length} upstream servers, ${upstreams.length} addresses given`);
  upstreams.forEach((address, i) => (conf = conf.replace(servers[i]![0], servers[i]![0].replace(/127\.0\.0\.1:5005\d/, address))));
  return conf;
}

/** Starts nginx with `conf` (a whole nginx.conf) and resolves once it accepts connections. */
export async function startNginx(conf: string, port: number): Promise<Nginx> {
  if (!existsSync(NGINX)) {
    throw new Error(`Cannot run the nginx tests: ${NGINX} is not installed (Debian: apt-get install nginx-full; .ci/run installs it)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'grpc-iter-nginx-'));
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const log = join(dir, 'error.log');
  const errorLog = (): string => (existsSync(log) ? readFileSync(log, 'utf8') : '(no error.log)');
  let output = '';
  // -e: the error log before the configuration is read; -g: stay in the foreground so the test owns the process.
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', log, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const workersSince = (from: number): string[] => [...errorLog().slice(from).matchAll(/start worker process (\d+)/g)].map((m) => m[1]!);
  const nginx: Nginx = {
    port,
    errorLog,
    async reload(next) {
      const from = errorLog().length;
      const old = workersSince(0).filter((pid) => !errorLog().includes(`worker process ${pid} exited`));
      writeFileSync(join(dir, 'nginx.conf'), next);
      child.kill('SIGHUP');
      const deadline = Date.now() + 5000;
      while (!old.every((pid) => errorLog().slice(from).includes(`worker process ${pid} exited`))) {
        if (Date.now() > deadline) throw new Error(`Cannot reload nginx: the old workers ${old.join(', ')} have not exited after 5 s\n${errorLog().slice(from)}`);
        await new Promise((resolve) => setTimeout(resolve, 20)); // polling an outside process's log: no event to wait on
      }
    },
    async stop() {
      await kill(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 5000;
  for (;;) {
    const result = await Promise.race([exited.then((code) => `exited with code ${code}`), canConnect(port)]);
    if (result === true) return nginx;
    if (typeof result === 'string' || Date.now() > deadline) {
      const why = typeof result === 'string' ? result : 'not listening after 5 s';
      const text = `${output}\n${errorLog()}`;
      await nginx.stop();
      throw new Error(`Cannot start nginx: ${why}\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20)); // polling an outside process: no event to wait on
  }
}

async function kill(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGQUIT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
