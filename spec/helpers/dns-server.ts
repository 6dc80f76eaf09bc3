// A small authoritative DNS server on loopback (RFC 1035 over UDP), for resolver tests: it answers
// A and AAAA questions from a table the test changes as it goes, can answer NXDOMAIN or SERVFAIL or
// stay silent, and counts and timestamps the queries it gets per name and type.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

/** What the server does with questions about one name. */
export type DnsBehaviour = 'answer' | 'nxdomain' | 'servfail' | 'drop';

/** One query as the server received it. */
export interface DnsQuery {
  readonly name: string;
  readonly type: 'A' | 'AAAA' | number;
  /** Date.now() when it arrived. */
  readonly at: number;
}

/** A started DNS server. */
export interface DnsServer {
  readonly port: number;
  /** `127.0.0.1:<port>`, for a `dns://127.0.0.1:<port>/name:port` target. */
  readonly authority: string;
  /** Sets the addresses of `name` (IPv4 and IPv6 mixed; each goes in its family's records), and answers for it again. */
  set(name: string, addresses: readonly string[]): void;
  /** Makes questions about `name` end in `behaviour` (NXDOMAIN, SERVFAIL, no answer) until the next set() or behave(). */
  behave(name: string, behaviour: DnsBehaviour): void;
  /** The TTL put in answers, in seconds (default 0, so nothing in between caches them). */
  ttl: number;
  /** Every query received, in order. */
  readonly queries: readonly DnsQuery[];
  /** How many queries for `name` (of `type`, or of any type) arrived. */
  count(name: string, type?: 'A' | 'AAAA'): number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;

/** Starts a DNS server on 127.0.0.1, port 0 (a free one). */
export async function startDnsServer(): Promise<DnsServer> {
  const socket: Socket = createSocket('udp4');
  const records = new Map<string, string[]>();
  const behaviours = new Map<string, DnsBehaviour>();
  const queries: DnsQuery[] = [];
  const state = { ttl: 0 };

  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    const reply = answer(msg, records, behaviours, state.ttl, queries);
    if (reply !== undefined) socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;
  return {
    port,
    authority: `127.0.0.1:${port}`,
    set(name, addresses) {
      for (const a of addresses) if (isIP(a) === 0) throw new TypeError(`Cannot set DNS records: "${a}" is not an IP address`);
      records.set(lower(name), [...addresses]);
      behaviours.delete(lower(name));
    },
    behave(name, behaviour) {
      behaviours.set(lower(name), behaviour);
    },
    get ttl() {
      return state.ttl;
    },
    set ttl(seconds: number) {
      state.ttl = seconds;
    },
    queries,
    count(name, type) {
      return queries.filter((q) => q.name === lower(name) && (type === undefined || q.type === type)).length;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const lower = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** The response to one query message, or undefined to send nothing (dropped, or not a query). */
function answer(msg: Buffer, records: Map<string, string[]>, behaviours: Map<string, DnsBehaviour>, ttl: number, queries: DnsQuery[]): Buffer | undefined {
  // RFC 1035 4.1.1: ID, flags (QR, opcode, AA, TC, RD, RA, Z, RCODE), then four section counts.
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if ((flags & 0x8000) !== 0 || msg.readUInt16BE(4) !== 1) return undefined;
  const opcode = (flags >> 11) & 0xf;
  const rd = flags & 0x0100;
  // 4.1.2: the question, QNAME as length-prefixed labels ended by a zero byte, then QTYPE and QCLASS.
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg[at]!;
    if (len === 0) break;
    if (len > 63 || at + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  const questionEnd = at + 5;
  if (questionEnd > msg.length) return undefined;
  const qtype = msg.readUInt16BE(at + 1);
  const qclass = msg.readUInt16BE(at + 3);
  const name = lower(labels.join('.'));
  queries.push({ name, type: qtype === TYPE_A ? 'A' : qtype === TYPE_AAAA ? 'AAAA' : qtype, at: Date.now() });

  const behaviour = behaviours.get(name) ?? 'answer';
  if (behaviour === 'drop') return undefined;
  const question = msg.subarray(12, questionEnd);
  const reply = (rcode: number, answers: Buffer[]): Buffer => {
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR=1, the query's opcode, AA=1, the query's RD, RA=1, and the rcode.
    header.writeUInt16BE(0x8000 | (opcode << 11) | 0x0400 | rd | 0x0080 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, question, ...answers]);
  };
  if (opcode !== 0 || qclass !== CLASS_IN) return reply(RCODE_NOTIMP, []);
  if (behaviour === 'servfail') return reply(RCODE_SERVFAIL, []);
  const addresses = records.get(name);
  if (behaviour === 'nxdomain' || addresses === undefined) return reply(RCODE_NXDOMAIN, []);
  // A name that exists with no records of the asked type: NOERROR with no answers (NODATA).
  const family = qtype === TYPE_A ? 4 : qtype === TYPE_AAAA ? 6 : 0;
  const answers = addresses.filter((a) => isIP(a) === family).map((a) => record(qtype, ttl, family === 4 ? ipv4Bytes(a) : ipv6Bytes(a)));
  return reply(0, answers);
}

/** A resource record (4.1.3) whose NAME is a compression pointer (4.1.4) to the question's, at offset 12. */
function record(type: number, ttl: number, rdata: Buffer): Buffer {
  const rr = Buffer.alloc(12 + rdata.length);
  rr.writeUInt16BE(0xc000 | 12, 0);
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(rdata.length, 10);
  rdata.copy(rr, 12);
  return rr;
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

function ipv6Bytes(address: string): Buffer {
  // Expand "::" into the missing zero groups; an embedded IPv4 tail becomes two groups.
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const b = ipv4Bytes(v4[1]!);
    text = `${text.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
