// The route guide client: each RPC kind as a Promise or an async iterable.
// Run it against a running server with `node --import tsx examples/route_guide/client.ts [127.0.0.1:50051]`.
// (In your own project, import from 'grpc-iter' and 'grpc-iter/proto'.)
import { pathToFileURL } from 'node:url';
import { createClient, insecureChannel } from '../../lib/index.js';
import { loadRouteGuide, type Feature, type Point, type RouteNote, type RouteSummary } from './server.js';

/** The typed view of the RouteGuide client this example uses. */
interface RouteGuideClient {
  getFeature(point: Point, options?: { timeout?: number }): Promise<Feature>;
  listFeatures(rect: { lo: Point; hi: Point }): AsyncIterable<Feature>;
  recordRoute(points: AsyncIterable<Point> | Iterable<Point>): Promise<RouteSummary>;
  routeChat(notes: AsyncIterable<RouteNote> | Iterable<RouteNote>): AsyncIterable<RouteNote>;
}

const where = (p: Point | undefined): string => `(${(p?.latitude ?? 0) / 1e7}, ${(p?.longitude ?? 0) / 1e7})`;

/** Calls each of the four methods once and prints what comes back; returns what it saw. */
export async function runClient(target: string, log: (line: string) => void = console.log): Promise<{ features: number; summary: RouteSummary; notes: number }> {
  const channel = insecureChannel(target);
  const client = createClient(loadRouteGuide(), channel) as unknown as RouteGuideClient;
  try {
    // Unary: await the answer (with a deadline of 5 seconds).
    const feature = await client.getFeature({ latitude: 400000000, longitude: -740000000 }, { timeout: 5 });
    log(`GetFeature: "${feature.name}" at ${where(feature.location)}`);
    const nothing = await client.getFeature({ latitude: 0, longitude: 0 });
    log(`GetFeature: ${nothing.name === '' ? 'no feature' : nothing.name} at ${where(nothing.location)}`);

    // Server streaming: for await over the responses.
    let features = 0;
    for await (const f of client.listFeatures({ lo: { latitude: 400000000, longitude: -750000000 }, hi: { latitude: 420000000, longitude: -730000000 } })) {
      features++;
      log(`ListFeatures: "${f.name}" at ${where(f.location)}`);
    }

    // Client streaming: pass any iterable (here an async generator) of requests.
    async function* route(): AsyncGenerator<Point> {
      for (let i = 0; i < 5; i++) yield { latitude: 400000000 + i * 1500000, longitude: -740000000 - (i % 4) * 2000000 };
    }
    const summary = await client.recordRoute(route());
    log(`RecordRoute: ${summary.pointCount} points, ${summary.featureCount} features, ${summary.distance} m`);

    // Bidirectional streaming: send notes and read the replies as they come.
    const notes: RouteNote[] = [
      { location: { latitude: 0, longitude: 1 }, message: 'First message' },
      { location: { latitude: 0, longitude: 2 }, message: 'Second message' },
      { location: { latitude: 0, longitude: 1 }, message: 'Third message' },
      { location: { latitude: 0, longitude: 2 }, message: 'Fourth message' },
    ];
    let replies = 0;
    for await (const note of client.routeChat(notes)) {
      replies++;
      log(`RouteChat: got "${note.message}" at ${where(note.location)}`);
    }
    return { features, summary, notes: replies };
  } finally {
    channel.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runClient(process.argv[2] ?? '127.0.0.1:50051');
}
