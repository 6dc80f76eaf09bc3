import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(repo, 'scripts', 'check-imports.mjs');

function check(dir?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, dir === undefined ? [script] : [script, dir], { cwd: repo, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

describe('scripts/check-imports.mjs', () => {
  const temp = mkdtempSync(join(tmpdir(), 'check-imports-'));
  after(() => rmSync(temp, { recursive: true, force: true }));

  it('passes the real lib/ tree', () => {
    const { status, stdout, stderr } = check();
    assert.equal(status, 0, stderr);
    assert.match(stdout, /^check-imports: \d+ files, no violations$/m);
  });

  it('names each boundary violation and cycle as file:line and exits 1', () => {
    const lib = join(temp, 'bad', 'lib');
    writeTree(lib, {
      'index.ts': "export { a } from './util/index.js';\n",
      'util/index.ts': "export { a } from './a.js';\n",
      // A value cycle: a.ts -> b.ts -> a.ts.
      'util/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'util/b.ts': "\nimport { a } from './a.js';\nexport const b = () => a;\n",
      // A type-only cycle is erased by the compiler and is not a cycle at run time.
      'util/c.ts': "import type { D } from './d.js';\nexport interface C { d?: D }\n",
      'util/d.ts': "import type { C } from './c.js';\nexport interface D { c?: C }\n",
      'transport/index.ts': "export const connect = 1;\n",
      // Upward import, and a socket module in the pure layer.
      'protocol/index.ts': "// a comment: import { x } from '../server/index.js';\nimport { connect } from '../transport/index.js';\nimport http2 from 'node:http2';\nexport const p = [connect, http2];\n",
      'protocol/status.ts': "export const OK = 0;\n",
      // An inner file of another folder, and server reaching into client.
      'server/index.ts': "import { OK } from '../protocol/status.js';\nimport type { Channel } from '../client/index.js';\nexport const s: [number, Channel?] = [OK];\n",
      'client/index.ts': "export interface Channel { x: number }\n",
    });
    const { status, stderr } = check(lib);
    assert.equal(status, 1, stderr);
    const lines = stderr.trim().split('\n');
    const at = (path: string, line: number, pattern: RegExp): void => {
      assert.ok(
        lines.some((l) => l.includes(`${join('lib', path)}:${line}: `) && pattern.test(l)),
        `expected ${path}:${line} matching ${pattern}, got:\n${stderr}`,
      );
    };
    at('protocol/index.ts', 2, /protocol\/ may not import transport\/ \("\.\.\/transport\/index\.js"\); it may import util\//);
    at('protocol/index.ts', 3, /protocol\/ may not import "node:http2"/);
    at('server/index.ts', 1, /"\.\.\/protocol\/status\.js" reaches into protocol\/; import its index\.js \(or core\.js\) instead/);
    at('server/index.ts', 2, /server\/ may not import client\//);
    assert.ok(
      lines.some((l) => /import cycle: .*util\/a\.ts:1 -> .*util\/b\.ts:2 -> .*util\/a\.ts$/.test(l)),
      `expected the a.ts/b.ts cycle, got:\n${stderr}`,
    );
    assert.ok(!lines.some((l) => l.includes('c.ts') || l.includes('d.ts')), `a type-only cycle was reported:\n${stderr}`);
    assert.ok(!lines.some((l) => l.includes('server/index.js')), `an import inside a comment was reported:\n${stderr}`);
    assert.match(lines.at(-1)!, /^check-imports: 5 violations in 11 files$/);
  });

  it('accepts imports through index.ts along the allowed directions, including dynamic and type-only ones', () => {
    const lib = join(temp, 'good', 'lib');
    writeTree(lib, {
      'index.ts': "export { serve } from './server/index.js';\nexport { call } from './client/index.js';\n",
      'util/index.ts': "export const u = 1;\n",
      'protocol/index.ts': "import { u } from '../util/index.js';\nimport { gzipSync } from 'node:zlib';\nexport const p = [u, gzipSync];\n",
      'transport/index.ts': "import { p } from '../protocol/index.js';\nimport http2 from 'node:http2';\nexport const t = [p, http2];\n",
      'server/index.ts': "import { t } from '../transport/index.js';\nexport const serve = async () => [t, await import('../protocol/index.js')];\n",
      'client/index.ts': "import type { p } from '../protocol/index.js';\nimport { t } from '../transport/index.js';\nexport const call = (x: typeof p) => [x, t];\n",
      'services/health/index.ts': "import { serve } from '../../server/index.js';\nimport { call } from '../../client/index.js';\nexport const h = [serve, call];\n",
    });
    const { status, stdout, stderr } = check(lib);
    assert.equal(status, 0, stderr);
    assert.match(stdout, /^check-imports: 7 files, no violations$/m);
  });
  it('names a plain re-export of an @internal name, which stripInternal would leave dangling in the .d.ts', () => {
    const lib = join(temp, 'internal', 'lib');
    writeTree(lib, {
      'index.ts': "export { publicName, hiddenByBarrel } from './util/index.js';\n",
      'util/a.ts': [
        '/** Public. */',
        'export const publicName = 1;',
        '/** @internal Shared inside lib only. */',
        'export const hidden = 2;',
        '/** @internal */',
        'export type Hidden = number;',
        'export const hiddenByBarrel = 3;',
        '',
      ].join('\n'),
      'util/index.ts': [
        "export { publicName, hidden, type Hidden } from './a.js';",
        '/** @internal Dropped from the .d.ts, so lib/index.ts may not re-export from it. */',
        "export { hiddenByBarrel } from './a.js';",
        '',
      ].join('\n'),
    });
    const { status, stderr } = check(lib);
    assert.equal(status, 1, stderr);
    const lines = stderr.trim().split('\n');
    const at = (path: string, line: number, name: string): void => {
      assert.ok(
        lines.some((l) => l.includes(`${join('lib', path)}:${line}: ${name} is @internal in `) && /\/\*\* @internal \*\/ export statement/.test(l)),
        `expected ${path}:${line} naming ${name}, got:\n${stderr}`,
      );
    };
    at('util/index.ts', 1, 'hidden');
    at('util/index.ts', 1, 'Hidden');
    at('index.ts', 1, 'hiddenByBarrel');
    assert.ok(!lines.some((l) => l.includes('publicName')), `a public name was reported:\n${stderr}`);
    assert.match(lines.at(-1)!, /^check-imports: 3 violations in 3 files$/);
  });

  it('accepts @internal names re-exported in an @internal statement of an inner index.ts', () => {
    const lib = join(temp, 'internal-ok', 'lib');
    writeTree(lib, {
      'index.ts': "export { publicName } from './util/index.js';\n",
      'util/a.ts': '/** Public. */\nexport const publicName = 1;\n/** @internal */\nexport function hidden(): number {\n  return 2;\n}\n',
      'util/index.ts': "export { publicName } from './a.js';\n/** @internal */\nexport { hidden } from './a.js';\n",
      'protocol/index.ts': "import { hidden } from '../util/index.js';\nexport const p = hidden;\n",
    });
    const { status, stdout, stderr } = check(lib);
    assert.equal(status, 0, stderr);
    assert.match(stdout, /^check-imports: 4 files, no violations$/m);
  });

  it('keeps web/ off node:* modules: it reaches client/ and protocol/ through core.ts, and nothing it reaches at run time imports node:*', () => {
    const lib = join(temp, 'web-bad', 'lib');
    writeTree(lib, {
      'util/index.ts': "export const u = 1;\n",
      'protocol/index.ts': "import { gzipSync } from 'node:zlib';\nexport const p = gzipSync;\n",
      'protocol/status.ts': "export const OK = 0;\n",
      // A core.ts that still pulls the node-bound barrel: allowed for client/, caught for web/.
      'client/core.ts': "\nimport { p } from '../protocol/index.js';\nexport const c = p;\n",
      'client/index.ts': "export { c } from './core.js';\n",
      'web/index.ts': [
        "import { c } from '../client/core.js';",
        "import { OK } from '../protocol/status.js';",
        "import { u } from '../util/index.js';",
        "import { connect } from 'node:net';",
        'export const w = [c, OK, u, connect];',
        '',
      ].join('\n'),
    });
    const { status, stderr } = check(lib);
    assert.equal(status, 1, stderr);
    const lines = stderr.trim().split('\n');
    const at = (line: number, pattern: RegExp): void => {
      assert.ok(lines.some((l) => l.includes(`${join('lib', 'web', 'index.ts')}:${line}: `) && pattern.test(l)), `expected web/index.ts:${line} matching ${pattern}, got:\n${stderr}`);
    };
    at(1, /web\/ may not reach "node:zlib" at run time: .*web\/index\.ts:1 -> .*client\/core\.ts:2 -> .*protocol\/index\.ts:1 -> node:zlib$/);
    at(2, /web\/ reaches protocol\/ through "\.\.\/protocol\/status\.js"; import its core\.js/);
    at(4, /web\/ may not import "node:net"/);
    assert.match(lines.at(-1)!, /^check-imports: 3 violations in 6 files$/);
  });

  it('accepts web/ through core.ts barrels, with node:* only in type-only imports and in files it does not reach', () => {
    const lib = join(temp, 'web-good', 'lib');
    writeTree(lib, {
      'util/index.ts': "export const u = 1;\n",
      'protocol/core.ts': "import type { Readable } from 'node:stream';\nexport const p = 1;\nexport type S = Readable;\n",
      'protocol/index.ts': "import { gzipSync } from 'node:zlib';\nexport { p } from './core.js';\nexport const z = gzipSync;\n",
      'transport/index.ts': "import { z } from '../protocol/index.js';\nexport const t = z;\nexport interface Port { x: number }\n",
      'client/core.ts': "import { p } from '../protocol/core.js';\nimport type { Port } from '../transport/index.js';\nexport const c = (port: Port) => [p, port];\n",
      'client/index.ts': "import { t } from '../transport/index.js';\nexport { c } from './core.js';\nexport const n = t;\n",
      'web/index.ts': "import { c } from '../client/core.js';\nimport { p } from '../protocol/core.js';\nimport { u } from '../util/index.js';\nexport const w = [c, p, u];\n",
    });
    const { status, stdout, stderr } = check(lib);
    assert.equal(status, 0, stderr);
    assert.match(stdout, /^check-imports: 7 files, no violations$/m);
  });
});
