import { Metadata, RpcError, StatusCode, type MetadataInit } from '../protocol/core.js';

/** What call credentials are told about the call they authorize. */
export interface CallCredentialsContext {
  /** `https://authority/package.Service`, as grpcio passes `service_url`. */
  readonly serviceUrl: string;
  /** The method's name, e.g. `GetFeature`. */
  readonly methodName: string;
}

const callBrand = Symbol('CallCredentials');
const channelBrand = Symbol('ChannelCredentials');

/** Per-call credentials: metadata added to each call (grpcio's `CallCredentials`). */
export interface CallCredentials {
  /** @internal */
  readonly [callBrand]: ReadonlyArray<(context: CallCredentialsContext) => Promise<Metadata>>;
}

/** Channel credentials: TLS settings and the call credentials composed onto them (grpcio's `ChannelCredentials`). */
export interface ChannelCredentials {
  /** @internal */
  readonly [channelBrand]: {
    readonly rootCertificates?: Buffer | undefined;
    readonly privateKey?: Buffer | undefined;
    readonly certChain?: Buffer | undefined;
    readonly callCredentials: CallCredentials | undefined;
  };
}

function bytes(value: string | Uint8Array | null | undefined, what: string): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return Buffer.from(value);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`Cannot create credentials: ${what} must be a PEM string or bytes`);
}

/**
 * TLS channel credentials (grpcio's `ssl_channel_credentials`). Without root certificates the
 * system's trusted roots are used; with a key and chain the client presents a certificate
 * (mutual TLS).
 *
 * @param rootCertificates - PEM roots to verify the server with
 * @param privateKey - PEM client key, for mutual TLS
 * @param certChain - PEM client certificate chain, for mutual TLS
 * @returns channel credentials for {@link secureChannel}
 * @throws TypeError when only one of key and chain is given
 *
 * @example
 * ```ts
 * const channel = secureChannel('api.example.com:443', sslChannelCredentials(readFileSync('ca.pem')));
 * ```
 */
export function sslChannelCredentials(
  rootCertificates?: string | Uint8Array | null,
  privateKey?: string | Uint8Array | null,
  certChain?: string | Uint8Array | null,
): ChannelCredentials {
  const key = bytes(privateKey, 'privateKey');
  const cert = bytes(certChain, 'certChain');
  if ((key === undefined) !== (cert === undefined)) throw new TypeError('Cannot create credentials: privateKey and certChain go together');
  return { [channelBrand]: { rootCertificates: bytes(rootCertificates, 'rootCertificates'), privateKey: key, certChain: cert, callCredentials: undefined } };
}

/**
 * Call credentials from a function that returns the metadata for each call (grpcio's
 * `metadata_call_credentials`). A throw or rejection fails the call with UNAVAILABLE, or with
 * the status of an RpcError it throws.
 *
 * @param plugin - makes the metadata for a call
 * @returns call credentials
 *
 * @example
 * ```ts
 * const creds = metadataCallCredentials(async () => ({ authorization: `Bearer ${await tokens.get()}` }));
 * ```
 */
export function metadataCallCredentials(plugin: (context: CallCredentialsContext) => MetadataInit | Promise<MetadataInit>): CallCredentials {
  if (typeof plugin !== 'function') throw new TypeError('Cannot create call credentials: expected a function');
  return {
    [callBrand]: [
      async (context) => {
        try {
          return Metadata.from(await plugin(context));
        } catch (err) {
          if (err instanceof RpcError) throw err;
          throw new RpcError(StatusCode.UNAVAILABLE, `Cannot get call credentials: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        }
      },
    ],
  };
}

/**
 * Call credentials sending `authorization: Bearer <token>` (grpcio's `access_token_call_credentials`).
 * @param accessToken - the token
 * @returns call credentials
 */
export function accessTokenCallCredentials(accessToken: string): CallCredentials {
  if (typeof accessToken !== 'string' || accessToken === '') throw new TypeError('Cannot create call credentials: the token must be a non-empty string');
  const md = new Metadata({ authorization: `Bearer ${accessToken}` });
  return { [callBrand]: [async () => md] };
}

/**
 * Call credentials that apply several in order (grpcio's `composite_call_credentials`).
 * @param credentials - two or more call credentials
 * @returns their composition
 */
export function compositeCallCredentials(...credentials: CallCredentials[]): CallCredentials {
  return { [callBrand]: credentials.flatMap((c) => checkCall(c)[callBrand]) };
}

/**
 * Channel credentials that also attach call credentials to every call (grpcio's
 * `composite_channel_credentials`).
 * @param channelCredentials - TLS credentials
 * @param callCredentials - one or more call credentials
 * @returns the composition
 */
export function compositeChannelCredentials(channelCredentials: ChannelCredentials, ...callCredentials: CallCredentials[]): ChannelCredentials {
  const base = channelCredentialsOf(channelCredentials);
  const calls = [...(base.callCredentials !== undefined ? [base.callCredentials] : []), ...callCredentials];
  return { [channelBrand]: { ...base, callCredentials: compositeCallCredentials(...calls) } };
}

function checkCall(c: CallCredentials): CallCredentials {
  if (typeof c !== 'object' || c === null || !(callBrand in c)) throw new TypeError('Cannot compose credentials: expected call credentials');
  return c;
}

/** @internal */
export function channelCredentialsOf(c: ChannelCredentials): ChannelCredentials[typeof channelBrand] {
  if (typeof c !== 'object' || c === null || !(channelBrand in c)) throw new TypeError('Cannot use credentials: expected channel credentials from sslChannelCredentials()');
  return c[channelBrand];
}

/** Runs every plugin of `credentials` and merges what they give. @internal */
export async function callMetadata(credentials: CallCredentials, context: CallCredentialsContext): Promise<Metadata> {
  const merged = new Metadata();
  for (const plugin of checkCall(credentials)[callBrand]) merged.merge(await plugin(context));
  return merged;
}
