import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { insecureChannel } from '../../lib/index.js';
import { sleep } from '../helpers/grpc.js';

async function pingCounter(): Promise<{ address: string; pings: () => number; close: () => Promise<void> }> {
  let pings = 0;
  const server = http2.createServer();
  server.on('session', (session) => session.on('ping', () => pings++));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    pings: () => pings,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('client keepalive (grpc.keepalive_*)', () => {
  it('pings an idle connection every grpc.keepalive_time_ms when permitted without calls', async () => {
    const server = await pingCounter();
    const channel = insecureChannel(server.address, { 'grpc.keepalive_time_ms': 50, 'grpc.keepalive_permit_without_calls': 1 });
    await channel.waitForReady();
    await sleep(400);
    assert.ok(server.pings() >= 4, `${server.pings()} pings in 400 ms at a 50 ms interval`);
    channel.close();
    await server.close();
  });

  it('does not ping a connection without calls unless permitted (doc/keepalive.md)', async () => {
    const server = await pingCounter();
    const channel = insecureChannel(server.address, { 'grpc.keepalive_time_ms': 50 });
    await channel.waitForReady();
    await sleep(300);
    assert.equal(server.pings(), 0);
    channel.close();
    await server.close();
  });

  it('sends no keepalive pings by default', async () => {
    const server = await pingCounter();
    const channel = insecureChannel(server.address, { 'grpc.keepalive_permit_without_calls': 1 });
    await channel.waitForReady();
    await sleep(200);
    assert.equal(server.pings(), 0);
    channel.close();
    await server.close();
  });
});
