import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { server, type Server } from '../../lib/index.js';
import { HealthServicer, ServingStatus, addHealthServicer } from '../../lib/services/health/index.js';

// The messages of grpc/health/v1/health.proto, encoded by protobufjs rather than our own codec,
// so the test checks the wire format independently.
const root = protobuf.parse(`
  syntax = "proto3";
  package grpc.health.v1;
  message HealthCheckRequest { string service = 1; }
  message HealthCheckResponse {
    enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
    ServingStatus status = 1;
  }
`).root;
const Request = root.lookupType('grpc.health.v1.HealthCheckRequest');
const Response = root.lookupType('grpc.health.v1.HealthCheckResponse');
const encodeRequest = (r: { service: string }): Buffer => Buffer.from(Request.encode(Request.create(r)).finish());
const decodeResponse = (b: Buffer): number => (Response.toObject(Response.decode(b), { enums: Number, defaults: true }) as { status: number }).status;

const HealthClient = grpc.makeGenericClientConstructor(
  {
    Check: {
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
      requestSerialize: encodeRequest,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: decodeResponse,
    },
    Watch: {
      path: '/grpc.health.v1.Health/Watch',
      requestStream: false,
      responseStream: true,
      requestSerialize: encodeRequest,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: decodeResponse,
    },
  },
  'Health',
);
interface Health extends grpc.Client {
  Check(request: { service: string }, callback: (err: grpc.ServiceError | null, status?: number) => void): void;
  Watch(request: { service: string }): grpc.ClientReadableStream<number>;
}

describe('health service (grpc.health.v1)', () => {
  let srv: Server;
  let health: HealthServicer;
  let client: Health;

  before(async () => {
    srv = server();
    health = new HealthServicer();
    addHealthServicer(srv, health);
    const port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Health;
  });
  after(async () => {
    client.close();
    await srv.stop(null);
  });

  const check = (service: string): Promise<number> =>
    new Promise((resolve, reject) => client.Check({ service }, (err, status) => (err ? reject(err) : resolve(status!))));

  it('answers Check for the whole server with SERVING', async () => {
    assert.equal(await check(''), ServingStatus.SERVING);
  });

  it('answers Check for an unknown service with NOT_FOUND', async () => {
    await assert.rejects(check('no.Such'), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
  });

  it('reports the status a service was set to', async () => {
    health.set('demo.Svc', ServingStatus.NOT_SERVING);
    assert.equal(await check('demo.Svc'), ServingStatus.NOT_SERVING);
    health.set('demo.Svc', ServingStatus.SERVING);
    assert.equal(await check('demo.Svc'), ServingStatus.SERVING);
  });

  it('streams the current status, then each change, to a watcher', async () => {
    const call = client.Watch({ service: 'watched.Svc' });
    const seen: number[] = [];
    const done = new Promise<void>((resolve) => {
      call.on('data', (status: number) => {
        seen.push(status);
        if (seen.length === 1) health.set('watched.Svc', ServingStatus.SERVING);
        else if (seen.length === 2) health.set('watched.Svc', ServingStatus.NOT_SERVING);
        else resolve();
      });
    });
    call.on('error', () => undefined);
    await done;
    call.cancel();
    assert.deepEqual(seen, [ServingStatus.SERVICE_UNKNOWN, ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });

  it('marks everything NOT_SERVING on graceful shutdown and ignores later updates', async () => {
    const call = client.Watch({ service: '' });
    const seen: number[] = [];
    const twoSeen = new Promise<void>((resolve) =>
      call.on('data', (status: number) => {
        seen.push(status);
        if (seen.length === 1) health.enterGracefulShutdown();
        if (seen.length === 2) resolve();
      }),
    );
    call.on('error', () => undefined);
    await twoSeen;
    call.cancel();
    assert.deepEqual(seen, [ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    health.set('', ServingStatus.SERVING);
    assert.equal(await check(''), ServingStatus.NOT_SERVING);
    assert.equal(await check('demo.Svc'), ServingStatus.NOT_SERVING);
  });
});
