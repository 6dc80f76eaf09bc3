// Command-line flags as the gRPC interop programs take them: `--name=value` or `--name value`,
// booleans also as a bare `--name`.

/** How a flag's value is read. */
export type FlagKind = 'string' | 'bool' | 'int';

/** The flags a program takes: name → kind. */
export type FlagSpec = Record<string, FlagKind>;

/** Parsed flag values: strings, booleans and integers, by name. */
export type Flags = Record<string, string | boolean | number | undefined>;

/** A command line the program cannot use; `message` says which flag and why. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Reads `argv` (without node and the script) against `spec`.
 * @throws UsageError for an unknown flag, a missing value, or a value of the wrong kind
 */
export function parseFlags(argv: readonly string[], spec: FlagSpec): Flags {
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`Unexpected argument "${arg}": flags look like --name=value`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = spec[name];
    if (kind === undefined) throw new UsageError(`Unknown flag --${name}; known: ${Object.keys(spec).map((n) => `--${n}`).join(', ')}`);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined && kind !== 'bool') {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`Flag --${name} needs a value`);
    }
    if (kind === 'bool') {
      if (value === undefined || value === 'true') flags[name] = true;
      else if (value === 'false') flags[name] = false;
      else throw new UsageError(`Flag --${name} is true or false, got "${value}"`);
    } else if (kind === 'int') {
      if (!/^\d+$/.test(value!)) throw new UsageError(`Flag --${name} is a non-negative integer, got "${value}"`);
      flags[name] = Number(value);
    } else {
      flags[name] = value;
    }
  }
  return flags;
}
