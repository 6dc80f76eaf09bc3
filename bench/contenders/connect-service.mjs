// The benchmark service's descriptors for @connectrpc/connect, from protoc at start: connect needs
// them at run time, and no generated code is committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { PROTO, includeDirs } from './control.mjs';

/** The registry of the benchmark protos, from which services and message schemas are looked up. */
export function loadRegistry() {
  const dir = mkdtempSync(join(tmpdir(), 'connect-bench-'));
  try {
    const out = join(dir, 'set.binpb');
    execFileSync('protoc', [...includeDirs.map((d) => `--proto_path=${d}`), '--include_imports', `--descriptor_set_out=${out}`, PROTO], { timeout: 20_000 });
    return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(out)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
