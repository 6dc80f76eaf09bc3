// The greeter service the page calls, shared by the server and the page. Messages are JSON
// (TextEncoder/TextDecoder, no Buffer) so the same codecs run in Node and in a browser and the
// example needs no .proto file. (In your own project, import from 'grpc-iter'.)
import type { MethodDefinition } from '../../lib/index.js';

/** What the page sends. */
export interface HelloRequest {
  name: string;
  /** How many greetings CountTo streams back. */
  count?: number;
}

/** What the server answers. */
export interface HelloReply {
  message: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const toJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
const fromJson = <T>(bytes: Uint8Array): T => JSON.parse(decoder.decode(bytes)) as T;

// The streaming flags stay literal types, so createClient types each method by its kind.
function method<S extends boolean>(name: string, responseStream: S): MethodDefinition<HelloRequest, HelloReply> & { readonly requestStream: false; readonly responseStream: S } {
  return {
    path: `/demo.Greeter/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: toJson,
    requestDeserialize: fromJson<HelloRequest>,
    responseSerialize: toJson,
    responseDeserialize: fromJson<HelloReply>,
  };
}

/** demo.Greeter: SayHello (unary) and CountTo (server streaming), for `addService` and `createClient`. */
export const Greeter = {
  SayHello: method('SayHello', false),
  CountTo: method('CountTo', true),
} as const;
