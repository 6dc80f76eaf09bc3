// Testing a service without a network: the route guide's handlers, called through an
// in-process channel, the way a project's own unit tests would. Every message is still
// serialized with the .proto's codecs, so a codec mistake fails here as it would in production.
//   node --import tsx --test examples/testing/route_guide.test.ts
// (In your own project, import from 'grpc-iter' and 'grpc-iter/proto'.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pipe } from 'it-pipe';
import { RpcError, StatusCode, createClient, inProcessChannel, server, type Channel, type Server, type StreamingCall } from '../../lib/index.js';
import { loadRouteGuide, routeGuide, type Feature, type Point, type RouteNote, type RouteSummary } from '../route_guide/server.js';

// The client's shape, as generated code would type it.
interface RouteGuideClient {
  getFeature(point: Point, options?: { timeout?: number }): Promise<Feature>;
  listFeatures(rect: { lo: Point; hi: Point }): StreamingCall<Feature>;
  recordRoute(points: Iterable<Point> | AsyncIterable<Point>): Promise<RouteSummary>;
  routeChat(notes: Iterable<RouteNote> | AsyncIterable<RouteNote>): StreamingCall<RouteNote>;
}

describe('route guide', () => {
  let srv: Server;
  let channel: Channel;
  let client: RouteGuideClient;

  before(() => {
    // No port and no start(): an in-process channel reaches the server's handlers directly.
    srv = server();
    srv.addService(loadRouteGuide(), routeGuide);
    channel = inProcessChannel(srv);
    client = createClient(loadRouteGuide(), channel) as unknown as RouteGuideClient;
  });

  after(async () => {
    channel.close();
    await srv.stop(null);
  });

  it('finds the feature at a known point', async () => {
    const feature = await client.getFeature({ latitude: 400000000, longitude: -740000000 });
    assert.equal(feature.name, 'Lighthouse Point');
  });

  it('answers an unknown point with an unnamed feature', async () => {
    const feature = await client.getFeature({ latitude: 0, longitude: 0 });
    assert.equal(feature.name, '');
  });

  it('lists the features inside a rectangle', async () => {
    const names: string[] = [];
    for await (const f of client.listFeatures({ lo: { latitude: 400000000, longitude: -750000000 }, hi: { latitude: 420000000, longitude: -730000000 } })) {
      names.push(f.name);
    }
    assert.ok(names.length > 0);
    assert.ok(names.includes('Lighthouse Point'));
  });

  it('summarises a recorded route', async () => {
    const summary = await client.recordRoute([
      { latitude: 400000000, longitude: -740000000 },
      { latitude: 0, longitude: 0 },
    ]);
    assert.equal(summary.pointCount, 2);
    assert.equal(summary.featureCount, 1);
  });

  it('chats: each note comes back to the next one left at the same place (composed with it-pipe)', async () => {
    const here = { latitude: 1, longitude: 1 };
    const replies = await pipe(
      [{ location: here, message: 'first' }, { location: here, message: 'second' }],
      (notes) => client.routeChat(notes),
      async (source) => {
        const messages: string[] = [];
        for await (const note of source) messages.push(note.message);
        return messages;
      },
    );
    assert.deepEqual(replies, ['first']);
  });

  it('reports a stopped server as UNAVAILABLE, as over the network', async () => {
    const stopped = server();
    stopped.addService(loadRouteGuide(), routeGuide);
    await stopped.stop(null);
    const offline = createClient(loadRouteGuide(), inProcessChannel(stopped)) as unknown as RouteGuideClient;
    await assert.rejects(offline.getFeature({ latitude: 0, longitude: 0 }), (err: unknown) => err instanceof RpcError && err.code === StatusCode.UNAVAILABLE);
  });
});
