// The route guide server: one handler of each RPC kind, written as plain functions and async
// generators. Run it with `node --import tsx examples/route_guide/server.ts [--port 50051]`.
// (In your own project, import from 'grpc-iter' and 'grpc-iter/proto'.)
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { server, type Server, type ServicerContext, type ServiceDefinition } from '../../lib/index.js';
import { loadProto } from '../../lib/proto/index.js';
import { HealthServicer, ServingStatus, addHealthServicer } from '../../lib/services/health/index.js';
import { addReflection } from '../../lib/services/reflection/index.js';

export interface Point {
  latitude: number;
  longitude: number;
}
export interface Rectangle {
  lo?: Point;
  hi?: Point;
}
export interface Feature {
  name: string;
  location?: Point;
}
export interface RouteNote {
  location?: Point;
  message: string;
}
export interface RouteSummary {
  pointCount: number;
  featureCount: number;
  distance: number;
  elapsedTime: number;
}

/** The RouteGuide service definition, loaded from route_guide.proto at run time. */
export function loadRouteGuide(): ServiceDefinition {
  // Loaded from its folder as an include folder, so reflection names the file `route_guide.proto` as protoc would.
  const root = loadProto('route_guide.proto', { includeDirs: [fileURLToPath(new URL('.', import.meta.url))] }) as unknown as {
    routeguide: { RouteGuide: ServiceDefinition };
  };
  return root.routeguide.RouteGuide;
}

const features: Feature[] = JSON.parse(readFileSync(new URL('./features.json', import.meta.url), 'utf8')) as Feature[];
const key = (p: Point | undefined): string => `${p?.latitude ?? 0} ${p?.longitude ?? 0}`;
const byLocation = new Map(features.map((f) => [key(f.location), f]));

/** Great-circle distance between two points, in metres (the haversine formula). */
function distance(a: Point, b: Point): number {
  const rad = (e7: number): number => ((e7 / 1e7) * Math.PI) / 180;
  const [lat1, lat2] = [rad(a.latitude), rad(b.latitude)];
  const dLat = lat2 - lat1;
  const dLon = rad(b.longitude) - rad(a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1) * Math.cos(lat2) * Math.sin(dLon / 2) ** 2;
  return Math.round(6_371_000 * 2 * Math.atan2(Math.sqrt(h), Math.sqrt(1 - h)));
}

/** The implementation: each method is the plainest function of its kind. */
export const routeGuide = {
  // Unary: return the answer.
  getFeature(point: Point): Feature {
    return byLocation.get(key(point)) ?? { name: '', location: point };
  },

  // Server streaming: yield each answer; the generator pauses while the client is not reading.
  async *listFeatures(rect: Rectangle, context: ServicerContext): AsyncGenerator<Feature> {
    const lo = rect.lo ?? { latitude: 0, longitude: 0 };
    const hi = rect.hi ?? { latitude: 0, longitude: 0 };
    const [left, right] = [Math.min(lo.longitude, hi.longitude), Math.max(lo.longitude, hi.longitude)];
    const [bottom, top] = [Math.min(lo.latitude, hi.latitude), Math.max(lo.latitude, hi.latitude)];
    for (const feature of features) {
      if (context.signal.aborted) return; // the client went away
      const { latitude, longitude } = feature.location ?? { latitude: 0, longitude: 0 };
      if (feature.name !== '' && longitude >= left && longitude <= right && latitude >= bottom && latitude <= top) yield feature;
    }
  },

  // Client streaming: read every request with for await, then return one answer.
  async recordRoute(points: AsyncIterable<Point>): Promise<RouteSummary> {
    const start = Date.now();
    let pointCount = 0;
    let featureCount = 0;
    let total = 0;
    let previous: Point | undefined;
    for await (const point of points) {
      pointCount++;
      if (byLocation.get(key(point))?.name) featureCount++;
      if (previous !== undefined) total += distance(previous, point);
      previous = point;
    }
    return { pointCount, featureCount, distance: total, elapsedTime: Math.round((Date.now() - start) / 1000) };
  },

  // Bidirectional streaming: answer each note with the notes left at the same place before it.
  async *routeChat(notes: AsyncIterable<RouteNote>): AsyncGenerator<RouteNote> {
    const left = new Map<string, RouteNote[]>();
    for await (const note of notes) {
      const here = left.get(key(note.location)) ?? [];
      yield* here;
      here.push(note);
      left.set(key(note.location), here);
    }
  },
};

/** Starts a route guide server on `address`; resolves to it and its port. */
export async function startServer(address = '127.0.0.1:0'): Promise<{ srv: Server; port: number }> {
  const srv = server();
  srv.addService(loadRouteGuide(), routeGuide);
  // Health and reflection: `grpcurl -plaintext localhost:50051 list` shows all three services.
  const health = new HealthServicer();
  health.set('routeguide.RouteGuide', ServingStatus.SERVING);
  addHealthServicer(srv, health);
  addReflection(srv);
  const port = await srv.addInsecurePort(address);
  await srv.start();
  return { srv, port };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const portFlag = process.argv.indexOf('--port');
  const port = portFlag > 0 ? Number(process.argv[portFlag + 1]) : 50051;
  const { srv } = await startServer(`127.0.0.1:${port}`);
  console.log(`route_guide server listening on 127.0.0.1:${port}`);
  process.once('SIGINT', () => void srv.stop(5));
  process.once('SIGTERM', () => void srv.stop(5));
  await srv.waitForTermination();
}
