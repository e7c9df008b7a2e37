/**
 * Bytes and text: joining chunks, encoding, measuring UTF-8 without
 * encoding.
 *
 * @module
 */

/** The pieces as one array; no copy when there is only one. */
export function concat(
  pieces: Uint8Array[],
  length: number = pieces.reduce((n, piece) => n + piece.byteLength, 0),
): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    whole.set(piece, offset);
    offset += piece.byteLength;
  }
  return whole;
}

export const encoder: TextEncoder = new TextEncoder();

/** Text that is all ASCII: V8's regular expressions scan it fastest. */
const ASCII = /^[^\u0080-\uffff]*$/;

/** How many bytes `text` takes in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  let length = text.length;
  if (ASCII.test(text)) return length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      length += 1;
    } else if (code < 0xdc00 && code >= 0xd800 && isLowSurrogate(text, i + 1)) {
      i++; // A surrogate pair: two UTF-16 units, four bytes.
      length += 2;
    } else {
      length += 2; // The rest of the BMP, or a lone surrogate sent as U+FFFD.
    }
  }
  return length;
}

function isLowSurrogate(text: string, i: number): boolean {
  const code = text.charCodeAt(i);
  return code >= 0xdc00 && code < 0xe000;
}
