import type { Address } from '../transport/index.js';

/** A parsed channel target: where to connect and the authority to send. @internal */
export interface ParsedTarget {
  readonly addresses: Address[];
  readonly authority: string;
  /** The host name for TLS verification, when the target names one. */
  readonly host: string | undefined;
}

function hostPort(text: string, defaultPort: number, target: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  if (m === null) throw new TypeError(`Cannot parse target "${target}": expected host:port`);
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port > 65535) throw new RangeError(`Cannot parse target "${target}": port ${port} is out of range`);
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * Parses a gRPC target (doc/naming.md): `host:port`, `dns:///host:port`, `ipv4:a:p[,a:p]`,
 * `ipv6:[a]:p[,[a]:p]`, `unix:path`, `unix:///abs/path`. The port defaults to 443.
 * @internal
 * @throws TypeError for a target it cannot parse
 */
export function parseTarget(target: string): ParsedTarget {
  if (typeof target !== 'string' || target === '') throw new TypeError('Cannot parse target: expected a non-empty string');
  if (target.startsWith('unix:')) {
    const rest = target.slice(5);
    const path = rest.startsWith('//') ? rest.slice(2) : rest;
    if (path === '') throw new TypeError(`Cannot parse target "${target}": empty unix socket path`);
    return { addresses: [{ path }], authority: 'localhost', host: undefined };
  }
  if (target.startsWith('ipv4:') || target.startsWith('ipv6:')) {
    const list = target.slice(5).split(',');
    const addresses = list.map((a) => hostPort(a, 443, target));
    const first = addresses[0]!;
    return { addresses, authority: `${first.host.includes(':') ? `[${first.host}]` : first.host}:${first.port}`, host: undefined };
  }
  let rest = target;
  if (rest.startsWith('dns:')) {
    rest = rest.slice(4);
    if (rest.startsWith('//')) rest = rest.slice(rest.indexOf('/', 2) + 1); // dns://authority/host:port
  }
  const { host, port } = hostPort(rest, 443, target);
  return { addresses: [{ host, port }], authority: `${host.includes(':') ? `[${host}]` : host}:${port}`, host };
}
