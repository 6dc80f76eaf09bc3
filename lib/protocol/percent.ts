// PROTOCOL-HTTP2.md, Responses: grpc-message is percent-encoded UTF-8. Bytes outside
// 0x20-0x7E and '%' itself are encoded; a decoder must not fail on a bad sequence.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Percent-encodes a status message for the `grpc-message` header.
 * @param message - the status details, any Unicode string
 * @returns the header value
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of encoder.encode(message)) {
    if (byte < 0x20 || byte > 0x7e || byte === 0x25) out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
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
      for (const b of encoder.encode(value[i] ?? '')) bytes.push(b);
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}
