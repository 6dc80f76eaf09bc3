// Base64 without Buffer, so the protocol code the browser client ships (metadata `-bin` values)
// runs where there is no Buffer. RFC 4648 §4; §5's URL-safe characters are accepted on decode,
// as Node's Buffer accepts them, so received metadata parses the same as before.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;
LOOKUP[0x2d /* '-' */] = 62;
LOOKUP[0x5f /* '_' */] = 63;

/**
 * Base64 of `bytes`, standard alphabet.
 * @param bytes - what to encode
 * @param pad - whether to end with `=` padding
 * @returns the text
 * @internal
 */
export function base64Encode(bytes: Uint8Array, pad = true): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  if (i < bytes.length) {
    const two = i + 1 < bytes.length;
    const n = (bytes[i]! << 16) | (two ? bytes[i + 1]! << 8 : 0);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
    if (two) out += ALPHABET[(n >> 6) & 63]!;
    if (pad) out += two ? '=' : '==';
  }
  return out;
}

/**
 * Decodes base64 text, padded or not, in one piece.
 * @param text - standard or URL-safe alphabet, optional `=` padding at the end
 * @returns the bytes
 * @throws TypeError for a character outside the alphabet or a length no encoder produces
 * @internal
 */
export function base64Decode(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d /* '=' */) end--;
  const rest = end % 4;
  if (rest === 1 || text.length - end > 2) throw new TypeError('Cannot decode base64: malformed length or padding');
  const out = new Uint8Array(((end - rest) / 4) * 3 + (rest === 0 ? 0 : rest - 1));
  let n = 0;
  let i = 0;
  for (; i + 3 < end; i += 4) {
    const v = (sextet(text, i) << 18) | (sextet(text, i + 1) << 12) | (sextet(text, i + 2) << 6) | sextet(text, i + 3);
    out[n++] = v >> 16;
    out[n++] = (v >> 8) & 255;
    out[n++] = v & 255;
  }
  if (rest > 0) {
    const v = (sextet(text, i) << 18) | (sextet(text, i + 1) << 12) | (rest === 3 ? sextet(text, i + 2) << 6 : 0);
    out[n++] = v >> 16;
    if (rest === 3) out[n++] = (v >> 8) & 255;
  }
  return out;
}

function sextet(text: string, i: number): number {
  const code = text.charCodeAt(i);
  const v = code < 128 ? LOOKUP[code]! : -1;
  if (v < 0) throw new TypeError('Cannot decode base64: a character is outside the alphabet');
  return v;
}
