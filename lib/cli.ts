#!/usr/bin/env node
// The grpc-iter command line: `grpc-iter gen <protos...> --out <dir> [-I <dir>]...`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ProtoLoadError, generateTypeScript } from './proto/index.js';

const USAGE = `usage: grpc-iter gen <file.proto>... --out <dir> [-I <dir>]... [--keep-case] [--import-from <module>]

  --out, -o <dir>         where the .ts files go (created if missing)
  -I, --include <dir>     a folder imports are searched in (repeatable); output paths are relative to it
  --keep-case             keep field names as written instead of lowerCamelCase
  --import-from <module>  the module grpc-iter's types are imported from (default: grpc-iter)`;

class UsageError extends Error {}

function parse(argv: readonly string[]): { files: string[]; out: string; includeDirs: string[]; keepCase: boolean; importFrom: string | undefined } {
  const [command, ...rest] = argv;
  if (command !== 'gen') throw new UsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
  const files: string[] = [];
  const includeDirs: string[] = [];
  let out: string | undefined;
  let keepCase = false;
  let importFrom: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const value = (): string => {
      const inline = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined;
      const v = inline ?? rest[++i];
      if (v === undefined || v === '') throw new UsageError(`${arg} needs a value`);
      return v;
    };
    const flag = arg.split('=')[0]!;
    if (flag === '--out' || flag === '-o') out = value();
    else if (flag === '--include' || flag === '-I') includeDirs.push(value());
    else if (arg.startsWith('-I') && arg.length > 2) includeDirs.push(arg.slice(2));
    else if (flag === '--keep-case') keepCase = true;
    else if (flag === '--import-from') importFrom = value();
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else files.push(arg);
  }
  if (files.length === 0) throw new UsageError('no .proto files given');
  if (out === undefined) throw new UsageError('--out <dir> is required');
  return { files, out, includeDirs, keepCase, importFrom };
}

function main(argv: readonly string[]): number {
  let args;
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`grpc-iter: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const generated = generateTypeScript(args.files, { includeDirs: args.includeDirs, keepCase: args.keepCase, ...(args.importFrom === undefined ? {} : { importFrom: args.importFrom }) });
    for (const file of generated) {
      const target = join(args.out, file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.content);
    }
    console.log(`grpc-iter gen: wrote ${generated.map((f) => join(args.out, f.path)).join(', ')}`);
    return 0;
  } catch (err) {
    if (err instanceof ProtoLoadError) {
      console.error(`grpc-iter gen: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = main(process.argv.slice(2));
