/**
 * `npm run soak [-- --seconds N] [--warmup W] [--seed S] [--json]`: runs the soak (60 s by
 * default, after W s of warm-up, none by default), prints its summary, and exits 1 when a
 * check failed. `--json` prints the whole result as one `SOAK_RESULT {json}` line after it.
 * @packageDocumentation
 */
import { formatSummary, runSoak } from './soak.js';

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const seconds = Number(arg('seconds') ?? 60);
const warmupSeconds = Number(arg('warmup') ?? 0);
const seed = Number(arg('seed') ?? 1);
if (!(seconds > 0) || !(warmupSeconds >= 0) || !Number.isInteger(seed)) {
  console.error('Cannot run the soak: --seconds must be a positive number, --warmup zero or more, and --seed an integer');
  process.exit(2);
}
const result = await runSoak({ seconds, warmupSeconds, seed, log: (line) => console.log(line) });
console.log('');
console.log(formatSummary(result));
if (process.argv.includes('--json')) console.log(`SOAK_RESULT ${JSON.stringify(result)}`);
process.exitCode = result.failures.length === 0 ? 0 : 1;
