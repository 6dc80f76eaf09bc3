import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
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

// grpc/grpc-proto grpc/health/v1/health.proto (with List, gRFC A90), the copy the health service
// serves to reflection, for @grpc/proto-loader so a stock grpc-js client calls our server through it.
const HEALTH_PROTOS = resolve('lib/services/health/proto');

interface LoadedHealth extends grpc.Client {
  Check(request: { service: string }, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  List(request: object, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, res?: { statuses: Record<string, { status: string }> }) => void): void;
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

describe('health service called by grpc-js through proto-loader over health.proto', () => {
  let srv: Server;
  let health: HealthServicer;
  let client: LoadedHealth;

  before(async () => {
    const definition = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [HEALTH_PROTOS], enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
    srv = server();
    health = new HealthServicer();
    addHealthServicer(srv, health);
    const port = await srv.addInsecurePort('127.0.0.1:0');
    await srv.start();
    client = new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as LoadedHealth;
  });
  after(async () => {
    client.close();
    await srv.stop(null);
  });

  const list = (): Promise<Record<string, string>> =>
    new Promise((resolve, reject) =>
      client.List({}, { deadline: Date.now() + 5000 }, (err, res) =>
        err ? reject(err) : resolve(Object.fromEntries(Object.entries(res!.statuses).map(([name, value]) => [name, value.status]))),
      ),
    );

  it('List answers every registered service, the whole server included, with its status', async () => {
    health.set('a.Svc', ServingStatus.SERVING);
    health.set('b.Svc', ServingStatus.NOT_SERVING);
    health.set('c.Svc', ServingStatus.UNKNOWN);
    assert.deepEqual(await list(), { '': 'SERVING', 'a.Svc': 'SERVING', 'b.Svc': 'NOT_SERVING', 'c.Svc': 'UNKNOWN' });
  });

  it('Check answers the status set last', async () => {
    health.set('b.Svc', ServingStatus.SERVING);
    const status = await new Promise<string>((resolve, reject) =>
      client.Check({ service: 'b.Svc' }, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res!.status))),
    );
    assert.equal(status, 'SERVING');
  });

  it('Watch of an unknown service answers SERVICE_UNKNOWN and keeps the call open until the service is set', async () => {
    const call = client.Watch({ service: 'late.Svc' });
    const seen: string[] = [];
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined); // the CANCELLED below; its status is checked
    await new Promise<void>((resolve) =>
      call.on('data', (res: { status: string }) => {
        seen.push(res.status);
        if (seen.length === 1) health.set('late.Svc', ServingStatus.SERVING);
        else resolve();
      }),
    );
    call.cancel();
    assert.deepEqual(seen, ['SERVICE_UNKNOWN', 'SERVING']);
    assert.equal((await ended).code, grpc.status.CANCELLED);
  });

  it('List answers up to 100 services and fails RESOURCE_EXHAUSTED over that, as health.proto says', async () => {
    // Fill up to 100, the most List answers, counting what the tests above registered.
    const registered = Object.keys(await list()).length;
    for (let i = registered; i < 100; i++) health.set(`bulk${i}.Svc`, ServingStatus.SERVING);
    assert.equal(Object.keys(await list()).length, 100);
    health.set('one.More', ServingStatus.SERVING);
    await assert.rejects(list(), (err: grpc.ServiceError) => err.code === grpc.status.RESOURCE_EXHAUSTED);
  });
});
