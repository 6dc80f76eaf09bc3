// TLS and mutual TLS. A TLS server proves itself to clients that trust its CA; a mutual-TLS
// server also asks each client for a certificate from that CA and refuses clients without one.
//   node --import tsx examples/tls/main.ts
// (In your own project, import from 'grpc-iter'.)
import { readFileSync } from 'node:fs';
import { RpcError, createClient, secureChannel, server, sslChannelCredentials, sslServerCredentials, statusCodeName } from '../../lib/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

const cert = (name: string): Buffer => readFileSync(new URL(`./certs/${name}`, import.meta.url));
const ca = cert('ca.pem');
const identity = { privateKey: cert('server.key'), certChain: cert('server.pem') };

// The handler sees how the peer connected, and who it is when it showed a certificate.
const greeter: GreeterServer = {
  sayHello(request, context) {
    const auth = context.authContext();
    const who = context.peerIdentities()?.map((id) => Buffer.from(id).toString()).join(', ') ?? 'anonymous';
    return { message: `Hello ${request.name} (over ${String(auth.transport_security_type?.[0] ?? 'plaintext')}, client ${who})` };
  },
  sayHellos: () => [],
};

async function serve(requireClientAuth: boolean): Promise<{ stop: () => Promise<void>; target: string }> {
  const srv = server();
  srv.addService(Greeter, greeter);
  const credentials = requireClientAuth ? sslServerCredentials([identity], { rootCertificates: ca, requireClientAuth: true }) : sslServerCredentials([identity]);
  const port = await srv.addSecurePort('127.0.0.1:0', credentials);
  await srv.start();
  return { stop: () => srv.stop(null), target: `localhost:${port}` };
}

async function hello(target: string, credentials: ReturnType<typeof sslChannelCredentials>, what: string): Promise<void> {
  const channel = secureChannel(target, credentials);
  try {
    console.log(`${what}: ${(await createClient(Greeter, channel).sayHello({ name: 'you' }, { timeout: 5 })).message}`);
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    console.log(`${what}: refused, ${statusCodeName(err.code)}`);
  } finally {
    channel.close();
  }
}

const tls = await serve(false);
await hello(tls.target, sslChannelCredentials(ca), 'TLS');
await tls.stop();

const mtls = await serve(true);
await hello(mtls.target, sslChannelCredentials(ca), 'mutual TLS, no client certificate');
await hello(mtls.target, sslChannelCredentials(ca, cert('client.key'), cert('client.pem')), 'mutual TLS, with a client certificate');
await mtls.stop();
