import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { methodHandlersGenericHandler, server, sslServerCredentials, unaryUnaryRpcMethodHandler, type Server } from '../../lib/index.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { decode, encode, jsClient } from '../helpers/grpc.js';

const whoAmI = unaryUnaryRpcMethodHandler((_r: string, ctx) => {
  const auth = ctx.authContext();
  const text = (values: Uint8Array[] | undefined): string[] => (values ?? []).map((v) => Buffer.from(v).toString());
  return JSON.stringify({
    key: ctx.peerIdentityKey(),
    ids: ctx.peerIdentities() === null ? null : text(ctx.peerIdentities()!),
    type: text(auth.transport_security_type),
    cn: text(auth.x509_common_name),
    san: text(auth.x509_subject_alternative_name),
    reused: text(auth.ssl_session_reused),
    pem: text(auth.x509_pem_cert)[0]?.startsWith('-----BEGIN CERTIFICATE-----') ?? false,
  });
}, decode, encode);

async function tlsServer(certs: TestCerts, options: Parameters<typeof sslServerCredentials>[1]): Promise<{ srv: Server; port: number }> {
  const srv = server({ handlers: [methodHandlersGenericHandler('test.Svc', { WhoAmI: whoAmI })] });
  const port = await srv.addSecurePort('127.0.0.1:0', sslServerCredentials([{ privateKey: certs.serverKey, certChain: certs.serverCert }], options));
  await srv.start();
  return { srv, port };
}

describe('TLS and mutual TLS', () => {
  let certs: TestCerts;
  const servers: Server[] = [];
  before(() => {
    certs = makeCerts();
  });
  after(async () => {
    for (const s of servers) await s.stop(null);
  });

  it('serves TLS; the auth context says ssl and no peer identity without a client certificate', async () => {
    const { srv, port } = await tlsServer(certs, {});
    servers.push(srv);
    const client = jsClient(`localhost:${port}`, { WhoAmI: 'unary' }, {}, 'test.Svc', grpc.credentials.createSsl(certs.ca));
    const got = JSON.parse((await client.unary('WhoAmI', '')).value!);
    assert.deepEqual(got.type, ['ssl']);
    assert.equal(got.key, null);
    assert.equal(got.ids, null);
    assert.deepEqual(got.reused, ['false']);
    client.close();
  });

  it('reports the verified client certificate under mutual TLS, as grpcio does', async () => {
    const { srv, port } = await tlsServer(certs, { rootCertificates: certs.ca, requireClientAuth: true });
    servers.push(srv);
    const client = jsClient(`localhost:${port}`, { WhoAmI: 'unary' }, {}, 'test.Svc', grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert));
    const got = JSON.parse((await client.unary('WhoAmI', '')).value!);
    assert.equal(got.key, 'x509_subject_alternative_name');
    assert.deepEqual(got.ids, ['client.example']);
    assert.deepEqual(got.cn, ['client.example']);
    assert.deepEqual(got.san, ['client.example']);
    assert.equal(got.pem, true);
    client.close();
  });

  it('refuses a client without a certificate when requireClientAuth is set', async () => {
    const { srv, port } = await tlsServer(certs, { rootCertificates: certs.ca, requireClientAuth: true });
    servers.push(srv);
    const client = jsClient(`localhost:${port}`, { WhoAmI: 'unary' }, {}, 'test.Svc', grpc.credentials.createSsl(certs.ca));
    const r = await client.unary('WhoAmI', '', new grpc.Metadata(), { deadline: Date.now() + 3000 });
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    client.close();
  });

  it('accepts a client without a certificate when client auth is optional', async () => {
    const { srv, port } = await tlsServer(certs, { rootCertificates: certs.ca, requireClientAuth: false });
    servers.push(srv);
    const client = jsClient(`localhost:${port}`, { WhoAmI: 'unary' }, {}, 'test.Svc', grpc.credentials.createSsl(certs.ca));
    assert.equal(JSON.parse((await client.unary('WhoAmI', '')).value!).key, null);
    client.close();
  });

  it('rejects bad credential arguments at once', () => {
    assert.throws(() => sslServerCredentials([]), TypeError);
    assert.throws(() => sslServerCredentials([{ privateKey: certs.serverKey, certChain: certs.serverCert }], { requireClientAuth: true }), /rootCertificates/);
  });
});
