// A @grpc/grpc-js peer traced by @opentelemetry/instrumentation-grpc. It is CommonJS and runs
// in its own process because the instrumentation patches grpc-js through require hooks, which
// must be in place before grpc-js is first required.
//   node spec/opentelemetry/grpc-js-peer.cjs server          → prints "PORT <n>", serves t.Svc/Echo
//   node spec/opentelemetry/grpc-js-peer.cjs client <port>   → calls t.Svc/Echo on 127.0.0.1:<port>
//   node spec/opentelemetry/grpc-js-peer.cjs client-missing <port> → calls t.Svc/Missing, prints "STATUS <code> <details>"
// Each span, when it ends, is printed as one line "SPAN {json}".
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { GrpcInstrumentation } = require('@opentelemetry/instrumentation-grpc');

const printer = {
  onStart() {},
  onEnd(span) {
    const line = {
      name: span.name,
      kind: span.kind,
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      parentSpanId: span.parentSpanContext ? span.parentSpanContext.spanId : undefined,
      attributes: span.attributes,
    };
    process.stdout.write(`SPAN ${JSON.stringify(line)}\n`);
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};
const provider = new NodeTracerProvider({ spanProcessors: [printer] });
provider.register(); // the async-hooks context manager and the W3C propagator
registerInstrumentations({ instrumentations: [new GrpcInstrumentation()] });

const grpc = require('@grpc/grpc-js');
const bytes = (b) => b;
const definition = {
  Echo: { path: '/t.Svc/Echo', requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes },
};

const [mode, port] = process.argv.slice(2);
if (mode === 'server') {
  const server = new grpc.Server();
  server.addService(definition, { Echo: (call, callback) => callback(null, call.request) });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => {
    if (err) throw err;
    process.stdout.write(`PORT ${bound}\n`);
  });
  // The test ends this process by closing its stdin.
  process.stdin.on('end', () => server.tryShutdown(() => process.exit(0)));
  process.stdin.resume();
} else if (mode === 'client') {
  const Client = grpc.makeGenericClientConstructor(definition, 'Svc');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  client.Echo(Buffer.from('from grpc-js'), (err, reply) => {
    if (err) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`REPLY ${Buffer.from(reply).toString()}\n`);
    client.close();
    // The span ends after the callback; let it print.
    setImmediate(() => provider.shutdown().then(() => process.exit(0)));
  });
} else if (mode === 'client-missing') {
  // Calls a method the server does not have; prints the status it gets.
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  client.makeUnaryRequest('/t.Svc/Missing', bytes, bytes, Buffer.from('x'), (err) => {
    process.stdout.write(`STATUS ${err ? err.code : 0} ${err ? err.details : ''}\n`);
    client.close();
    setImmediate(() => provider.shutdown().then(() => process.exit(0)));
  });
} else {
  process.stderr.write('usage: grpc-js-peer.cjs server | client <port> | client-missing <port>\n');
  process.exit(2);
}
