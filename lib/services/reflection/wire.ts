import { WireType, readFields, readString } from '../../protocol/index.js';

// The ServerReflectionRequest that server reflection reads, decoded by hand (as the health
// service does) so this folder needs no protobuf runtime: grpc/grpc-proto
// grpc/reflection/v1/reflection.proto (v1alpha has the same field numbers).

/** A decoded ServerReflectionRequest. @internal */
export type ReflectionRequest =
  | { readonly host: string; readonly kind: 'fileByFilename' | 'fileContainingSymbol' | 'allExtensionNumbersOfType' | 'listServices'; readonly name: string }
  | { readonly host: string; readonly kind: 'fileContainingExtension'; readonly name: string; readonly number: number }
  | { readonly host: string; readonly kind: 'none'; readonly name: '' };

/** Decodes a ServerReflectionRequest. @internal */
export function decodeReflectionRequest(bytes: Uint8Array): ReflectionRequest {
  let host = '';
  let request: ReflectionRequest | undefined;
  for (const f of readFields(bytes, 'ServerReflectionRequest')) {
    if (f.wireType !== WireType.LEN) continue;
    if (f.field === 1) host = readString(f.bytes);
    else if (f.field === 3) request = { host: '', kind: 'fileByFilename', name: readString(f.bytes) };
    else if (f.field === 4) request = { host: '', kind: 'fileContainingSymbol', name: readString(f.bytes) };
    else if (f.field === 6) request = { host: '', kind: 'allExtensionNumbersOfType', name: readString(f.bytes) };
    else if (f.field === 7) request = { host: '', kind: 'listServices', name: readString(f.bytes) };
    else if (f.field === 5) {
      let name = '';
      let number = 0;
      for (const g of readFields(f.bytes, 'ExtensionRequest')) {
        if (g.field === 1 && g.wireType === WireType.LEN) name = readString(g.bytes);
        else if (g.field === 2 && g.wireType === WireType.VARINT) number = g.int | 0;
      }
      request = { host: '', kind: 'fileContainingExtension', name, number };
    }
  }
  return request === undefined ? { host, kind: 'none', name: '' } : { ...request, host };
}
