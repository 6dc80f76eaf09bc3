// The benchmark suite in miniature, so it never rots: every contender (grpc-iter, grpc-js, the
// bare node:http2 ceiling) starts in its own process, passes the correctness check with a real
// client, and produces a number for every workload.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

describe('bench --smoke', () => {
  it('runs every workload against every contender and prints its tables and JSON', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], { timeout: 120_000 }, (err, out, errOut) =>
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout: out, stderr: errOut }),
      );
    });
    assert.equal(code, 0, stderr);
    for (const title of ['1. Server unary throughput', '2. Client unary throughput', '3a. Server streaming, 1 stream', '3c. Server streaming, 8 streams', '4a. Bidi ping-pong latency, p50', '5. Server RSS with 200 idle streams']) {
      assert.ok(stdout.includes(`### ${title}`), `missing table: ${title}`);
    }
    const rows = (title: string): string[] => stdout.split(`### ${title}`)[1]!.split('\n\n')[1]!.split('\n').slice(2);
    assert.deepEqual(rows('1. Server unary throughput').map((r) => r.split(' | ')[0]), ['| grpc-iter', '| grpc-js', '| bare']);
    assert.deepEqual(rows('2. Client unary throughput').map((r) => r.split(' | ')[0]), ['| grpc-iter', '| grpc-js']);
    const json = JSON.parse(readFileSync('bench/results/latest.json', 'utf8')) as { results: Record<string, Record<string, { median: number }>> };
    for (const workload of ['server-unary', 'streaming-1', 'streaming-8', 'pingpong-p50', 'memory-200']) {
      for (const contender of ['grpc-iter', 'grpc-js', 'bare']) assert.ok(json.results[workload]![contender]!.median > 0, `${workload}/${contender}`);
    }
    for (const contender of ['grpc-iter', 'grpc-js']) assert.ok(json.results['client-unary']![contender]!.median > 0, `client-unary/${contender}`);
  });
});
