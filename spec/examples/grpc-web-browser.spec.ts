// The gRPC-Web example in a real browser: Debian's Chromium, headless, driven by playwright-core
// (no browser download), opens the page from one origin and the page calls the grpc-iter server
// on another with grpc-iter/web. The test reads what the page shows, in both body formats.
// Chromium missing is a failure, not a skip: CI installs it (.ci/run).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { defer } from '../../lib/util/index.js';
import { STREAM_INTERVAL_MS, startGrpcWebExample, type GrpcWebExample } from '../../examples/grpc-web/server.js';

/** Where the system Chromium is; CHROMIUM_PATH points elsewhere (another distribution, macOS). */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** How long any one browser step may take before the test fails instead of hanging. */
const STEP_MS = 20_000;

/** A gRPC-Web exchange the page made, as the browser's network layer saw it. */
interface Exchange {
  readonly path: string;
  readonly requestType: string | undefined;
  readonly responseType: string | undefined;
  readonly allowOrigin: string | undefined;
  readonly exposed: string | undefined;
}

/** The calls the page makes: SayHello, CountTo, then SayHello failing. */
const CALLS = 3;

/** Opens the page in `format`, waits until its calls are over, and returns the page and its gRPC-Web exchanges. */
async function openPage(browser: Browser, example: GrpcWebExample, format: 'binary' | 'text'): Promise<{ page: Page; exchanges: Exchange[] }> {
  const page = await browser.newPage();
  const exchanges: Exchange[] = [];
  const allSeen = defer<void>();
  page.on('response', (response) => {
    const request = response.request();
    if (!request.url().startsWith(example.grpcUrl) || request.method() !== 'POST') return;
    const headers = response.headers();
    exchanges.push({
      path: new URL(request.url()).pathname,
      requestType: request.headers()['content-type'],
      responseType: headers['content-type'],
      allowOrigin: headers['access-control-allow-origin'],
      exposed: headers['access-control-expose-headers'],
    });
    if (exchanges.length === CALLS) allSeen.resolve();
  });
  await page.goto(`${example.pageUrl}?format=${format}`, { timeout: STEP_MS });
  await page.locator('body:not([data-state="running"])').waitFor({ timeout: STEP_MS });
  const state = await page.locator('body').getAttribute('data-state');
  assert.equal(state, 'done', `the page failed: ${await page.locator('#failure').textContent()}`);
  // The network events reach us apart from the page's DOM: the last may come after "done".
  const timer = setTimeout(() => allSeen.reject(new Error(`saw ${exchanges.length} of the page's ${CALLS} gRPC-Web responses`)), STEP_MS);
  try {
    await allSeen;
  } finally {
    clearTimeout(timer);
  }
  return { page, exchanges };
}

const text = async (page: Page, selector: string): Promise<string | null> => page.locator(selector).textContent({ timeout: STEP_MS });

describe('gRPC-Web example in Chromium (examples/grpc-web)', () => {
  let example: GrpcWebExample;
  let browser: Browser;

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Cannot run the browser test: no Chromium at ${CHROMIUM} (install Debian's chromium package, as .ci/run does, or set CHROMIUM_PATH)`);
    }
    example = await startGrpcWebExample();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: STEP_MS });
  });

  after(async () => {
    await browser?.close();
    await example?.close();
  });

  it('serves the page and the gRPC server on different origins', () => {
    assert.notEqual(new URL(example.pageUrl).origin, new URL(example.grpcUrl).origin);
  });

  for (const format of ['binary', 'text'] as const) {
    describe(`${format} format`, () => {
      let page: Page;
      let exchanges: Exchange[];

      before(async () => {
        ({ page, exchanges } = await openPage(browser, example, format));
      });

      after(async () => {
        await page?.close();
      });

      it('goes over the wire in that format, cross-origin, with CORS answered for the page', () => {
        const type = format === 'text' ? /^application\/grpc-web-text(\+proto)?$/ : /^application\/grpc-web(\+proto)?$/;
        assert.deepEqual(exchanges.map((e) => e.path), ['/demo.Greeter/SayHello', '/demo.Greeter/CountTo', '/demo.Greeter/SayHello']);
        const pageOrigin = new URL(example.pageUrl).origin;
        for (const e of exchanges) {
          assert.match(e.requestType ?? '', type);
          assert.match(e.responseType ?? '', type);
          assert.equal(e.allowOrigin, pageOrigin);
          for (const header of ['grpc-status', 'grpc-message']) assert.ok(e.exposed?.toLowerCase().split(/\s*,\s*/).includes(header), `${header} exposed, got "${e.exposed}"`);
        }
      });

      it('shows the unary reply and its response metadata', async () => {
        assert.equal(await text(page, '#format'), format);
        assert.equal(await text(page, '#unary'), 'Hello browser');
        assert.equal(await text(page, '#unary-served-by'), 'grpc-iter', 'x-served-by readable: CORS exposes custom response metadata');
      });

      it('shows each streamed message as it arrives, the first well before the stream ends', async () => {
        const items = await page.locator('#stream li').all();
        const messages = await Promise.all(items.map(async (item) => (await item.textContent())!.replace(/^\+[\d.]+ ms\s+/, '')));
        assert.deepEqual(messages, ['Hello #1, browser', 'Hello #2, browser', 'Hello #3, browser', 'Hello #4, browser']);
        const arrivals = await Promise.all(items.map(async (item) => Number(await item.getAttribute('data-at'))));
        const end = Number(await page.locator('#stream-end').getAttribute('data-at'));
        // The server sends the four messages STREAM_INTERVAL_MS apart, so the stream ends at least
        // three intervals after the first is sent; a response read only when whole would show
        // them all at its end. The margin leaves one interval for a busy machine's delays.
        assert.ok(arrivals[0]! < end - 2 * STREAM_INTERVAL_MS, `first message at ${arrivals[0]} ms, stream ended at ${end} ms`);
        assert.deepEqual([...arrivals].sort((a, b) => a - b), arrivals, 'shown in arrival order');
        assert.ok(end >= arrivals[arrivals.length - 1]!);
      });

      it('shows the error status code and message, and its trailing metadata (readable through CORS)', async () => {
        assert.equal(await text(page, '#error'), 'INVALID_ARGUMENT (3): Cannot greet: name is empty');
        assert.equal(await text(page, '#error-reason'), 'empty-name');
      });
    });
  }
});
