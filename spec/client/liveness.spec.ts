// Issue 10: a pending call keeps the process alive until it settles; an idle channel does not.
// Each case runs in a child process, since what is tested is when the process exits.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { frame } from '../helpers/raw.js';
import { defer } from '../helpers/grpc.js';

const fixture = fileURLToPath(new URL('./fixtures/liveness.ts', import.meta.url));
const servers: http2.Http2Server[] = [];
after(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
});

/** Answers every call OK with a 3-byte message. */
function okServer(): http2.Http2Server {
  const raw = http2.createServer();
  raw.on('stream', (stream) => {
    stream.on('error', () => undefined);
    stream.on('data', () => undefined);
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame('abc'));
    });
  });
  servers.push(raw);
  return raw;
}

async function listen(raw: http2.Http2Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => raw.listen(port, '127.0.0.1', resolve));
  return (raw.address() as AddressInfo).port;
}

/** A port nothing listens on (for now). */
async function freePort(): Promise<number> {
  const probe = http2.createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Runs the fixture; kills it after `limitMs` (then `code` is null). */
function run(mode: string, address: string, limitMs: number, onLine?: (line: string) => void): Promise<{ code: number | null; stdout: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    const text = String(d);
    stdout += text;
    for (const line of text.split('\n')) if (line !== '') onLine?.(line);
  });
  const killer = setTimeout(() => child.kill(), limitMs);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, ms: Date.now() - started });
    }),
  );
}

describe('what keeps the process alive (issue 10)', () => {
  it('10: a channel left open after its calls does not keep the process alive', async () => {
    const port = await listen(okServer());
    const { code, stdout } = await run('idle', `127.0.0.1:${port}`, 15_000);
    assert.equal(code, 0, 'the process exited by itself');
    assert.match(stdout, /^reply 3$/m);
  });

  it('10: a call waiting for a connection keeps the process alive until its deadline ends it', async () => {
    const { code, stdout } = await run('wait-deadline', `127.0.0.1:${await freePort()}`, 15_000);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^status DEADLINE_EXCEEDED$/m);
  });

  it('10: waitForReady keeps the process alive until the server comes up', async () => {
    const port = await freePort();
    const waiting = defer();
    const result = run('wait-ready', `127.0.0.1:${port}`, 15_000, (line) => line === 'waiting' && waiting.resolve());
    await waiting;
    await listen(okServer(), port);
    const { code, stdout } = await result;
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^ready, reply 3$/m);
  });
});
