// `npm run demo`: starts the route guide server, runs its client against it, stops, and exits
// 0 only if every call answered as expected.
import { runClient } from './route_guide/client.js';
import { startServer } from './route_guide/server.js';

const { srv, port } = await startServer('127.0.0.1:0');
console.log(`route_guide server on 127.0.0.1:${port}`);
try {
  const seen = await runClient(`127.0.0.1:${port}`);
  const ok = seen.features > 0 && seen.summary.pointCount === 5 && seen.notes === 2;
  if (!ok) throw new Error(`Demo got unexpected answers: ${JSON.stringify(seen)}`);
  console.log('demo: all four RPC kinds answered');
} finally {
  await srv.stop(1);
}
