// Tracing a call chain: client → frontend → backend, each hop traced with grpc-iter/opentelemetry,
// every span printed by the OpenTelemetry console exporter as it ends. The four spans share one
// trace: the frontend's SERVER span is the child of the client's CLIENT span, and so on down.
//   node --import tsx examples/opentelemetry/main.ts
// (In your own project, import from 'grpc-iter' and 'grpc-iter/opentelemetry'.)
import { trace } from '@opentelemetry/api';
import { ConsoleSpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { createClient, insecureChannel, interceptChannel, server } from '../../lib/index.js';
import { openTelemetryClientInterceptor, openTelemetryServerInterceptor } from '../../lib/opentelemetry/index.js';
import { Greeter, type GreeterServer } from '../proto/generated/greeter.js';

// register() installs the async-hooks context manager and the W3C trace-context propagator
// globally; the interceptors use the global tracer provider unless given one.
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] });
provider.register();

/** A channel whose calls are traced; `target` names the server in the span's attributes. */
function tracedChannel(target: string) {
  const channel = insecureChannel(target);
  return { channel, traced: interceptChannel(channel, openTelemetryClientInterceptor({ target })) };
}

const backend = server({ interceptors: [openTelemetryServerInterceptor()] });
backend.addService(Greeter, {
  sayHello: (request) => ({ message: `Hello ${request.name}` }),
  sayHellos: () => [],
} satisfies GreeterServer);
const backendTarget = `127.0.0.1:${await backend.addInsecurePort('127.0.0.1:0')}`;
await backend.start();
const toBackend = tracedChannel(backendTarget);
const backendClient = createClient(Greeter, toBackend.traced);

// The frontend's handler runs inside its SERVER span, so its call to the backend is a child.
const frontend = server({ interceptors: [openTelemetryServerInterceptor()] });
frontend.addService(Greeter, {
  sayHello: async (request, context) => {
    const reply = await backendClient.sayHello(request, { parent: context });
    return { message: `${reply.message}, via the frontend` };
  },
  sayHellos: () => [],
} satisfies GreeterServer);
const frontendTarget = `127.0.0.1:${await frontend.addInsecurePort('127.0.0.1:0')}`;
await frontend.start();
const toFrontend = tracedChannel(frontendTarget);
const client = createClient(Greeter, toFrontend.traced);

// The client's call runs inside a span of its own, the root of the trace.
await trace.getTracer('example').startActiveSpan('client work', async (span) => {
  const reply = await client.sayHello({ name: 'world' });
  console.log(`client: ${reply.message}`);
  span.end();
});

toFrontend.channel.close();
toBackend.channel.close();
await frontend.stop(null);
await backend.stop(null);
await provider.shutdown();
