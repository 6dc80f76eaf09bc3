import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';

describe('examples', () => {
  it('npm run demo (examples/demo.ts) serves and answers all four RPC kinds, then exits 0', async () => {
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], { timeout: 30_000 }, (err, out) =>
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout: out }),
      );
      child.stdin?.end();
    });
    assert.equal(code, 0, stdout);
    assert.match(stdout, /SayHello {2}-> Hello newcomer/);
    assert.match(stdout, /INVALID_ARGUMENT: Cannot greet: name is empty/);
    assert.match(stdout, /CountTo {3}-> 1 2 3/);
    assert.match(stdout, /GreetAll {2}-> Hello Ada, Grace, Linus/);
    assert.match(stdout, /Chat {6}-> Hi one \/ Hi two/);
  });
});
