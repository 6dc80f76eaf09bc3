/**
 * Parses `host[:port]`, `[v6]:port`, with `defaultPort` when none is given.
 * @internal
 * @throws TypeError / RangeError naming `target` when it does not parse
 */
export function parseHostPort(text: string, defaultPort: number, target: string): { readonly host: string; readonly port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]/]+))(?::(\d{1,5}))?$/.exec(text);
  if (m === null) throw new TypeError(`Cannot parse target "${target}": expected host:port`);
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port > 65535) throw new RangeError(`Cannot parse target "${target}": port ${port} is out of range`);
  return { host: (m[1] ?? m[2])!, port };
}

/** `host:port`, with brackets around an IPv6 host. @internal */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
