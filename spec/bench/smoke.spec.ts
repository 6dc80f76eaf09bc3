// The benchmark suite in miniature, so it never rots: every contender (grpc-iter, grpc-js,
// connect-node, nice-grpc, the bare node:http2 ceiling) starts in its own process, passes the
// correctness check with a real client, and produces a number for every workload; every client
// library produces one for every client workload.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

const SERVERS = ['grpc-iter', 'grpc-js', 'connect-node', 'nice-grpc', 'bare'];
const CLIENTS = ['grpc-iter', 'grpc-js', 'connect-node', 'nice-grpc'];

describe('bench --smoke', () => {
  it('runs every workload against every contender and prints its tables and JSON', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke'], { timeout: 120_000 }, (err, out, errOut) =>
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout: out, stderr: errOut }),
      );
    });
    assert.equal(code, 0, stderr);
    const serverTables = [
      '1. Server unary throughput',
      '1b. Server unary latency, p99',
      '3a. Server streaming, 1 stream',
      '3c. Server streaming, 8 streams',
      '4a. Bidi ping-pong latency, p50',
      '5. Server RSS with 200 idle streams',
      '8. Client-streaming throughput',
      '9. Bidi throughput',
      '10. Server RSS with 200 idle bidi streams',
    ];
    const clientTables = ['2. Client unary throughput', '11. Client receiving a server stream'];
    for (const title of [...serverTables, ...clientTables]) assert.ok(stdout.includes(`### ${title}`), `missing table: ${title}`);
    const rows = (title: string): string[] => stdout.split(`### ${title}`)[1]!.split('\n\n')[1]!.split('\n').slice(2);
    for (const title of serverTables) assert.deepEqual(rows(title).map((r) => r.split(' | ')[0]), SERVERS.map((n) => `| ${n}`), title);
    for (const title of clientTables) assert.deepEqual(rows(title).map((r) => r.split(' | ')[0]), CLIENTS.map((n) => `| ${n}`), title);
    const json = JSON.parse(readFileSync('bench/results/latest.json', 'utf8')) as { results: Record<string, Record<string, { median: number }>> };
    for (const workload of ['server-unary', 'server-unary-p99', 'streaming-1', 'streaming-8', 'pingpong-p50', 'memory-200', 'client-streaming', 'bidi', 'memory-bidi-200']) {
      for (const contender of SERVERS) assert.ok(json.results[workload]![contender]!.median > 0, `${workload}/${contender}`);
    }
    for (const workload of ['client-unary', 'client-receive']) {
      for (const contender of CLIENTS) assert.ok(json.results[workload]![contender]!.median > 0, `${workload}/${contender}`);
    }
  });
});
