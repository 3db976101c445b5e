/** Byte-bounded cuts of UTF-8 text that never split a character. */

function isContinuation(byte: number | undefined): boolean {
  return byte !== undefined && (byte & 0xc0) === 0x80;
}

/** The longest start of `text` that is at most `maxBytes` bytes of UTF-8. */
export function utf8Head(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && isContinuation(bytes[end])) end--;
  return bytes.subarray(0, end).toString("utf8");
}

/** The longest end of `text` that is at most `maxBytes` bytes of UTF-8. */
export function utf8Tail(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let start = bytes.length - maxBytes;
  while (start < bytes.length && isContinuation(bytes[start])) start++;
  return bytes.subarray(start).toString("utf8");
}

/** `text` cut into pieces of at most `maxBytes` bytes of UTF-8 each. */
export function utf8Pieces(text: string, maxBytes: number): string[] {
  const bytes = Buffer.from(text, "utf8");
  const pieces: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + maxBytes, bytes.length);
    while (end > start && end < bytes.length && isContinuation(bytes[end])) end--;
    pieces.push(bytes.subarray(start, end).toString("utf8"));
    start = end;
  }
  return pieces;
}
