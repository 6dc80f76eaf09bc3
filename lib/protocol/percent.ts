// PROTOCOL-HTTP2.md, Responses: grpc-message is percent-encoded UTF-8. Bytes outside
// 0x20-0x7E and '%' itself are encoded; a decoder must not fail on a bad sequence.
// A space at either end is encoded too: RFC 9113 §8.2.1 forbids a field value that starts or
// ends with whitespace, and nghttp2 (so every node:http2 peer) drops such a field, which would
// lose the whole message.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Percent-encodes a status message for the `grpc-message` header.
 * @param message - the status details, any Unicode string
 * @returns the header value
 */
export function encodeGrpcMessage(message: string): string {
  const last = message.length - 1;
  let plain = message.charCodeAt(0) !== 0x20 && message.charCodeAt(last) !== 0x20;
  for (let i = 0; plain && i <= last; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) plain = false;
  }
  if (plain) return message;
  const bytes = encoder.encode(message);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    const edgeSpace = byte === 0x20 && (i === 0 || i === bytes.length - 1);
    if (byte < 0x20 || byte > 0x7e || byte === 0x25 || edgeSpace) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
    else out += String.fromCharCode(byte);
  }
  return out;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Decodes a `grpc-message` header value. Malformed escapes are kept as they are, and
 * invalid UTF-8 becomes U+FFFD, so a bad peer never causes an error here.
 * @param value - the header value
 * @returns the status details
 */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && isHex(value.charCodeAt(i + 1)) && isHex(value.charCodeAt(i + 2))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // By code point, not by UTF-16 unit: half a surrogate pair would encode as U+FFFD.
      const cp = value.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of encoder.encode(String.fromCodePoint(cp))) bytes.push(b);
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}
