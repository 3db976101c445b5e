/** Secrets handling shared by every object that stores credentials: random tokens, hashes, constant-time compare. */

const encoder = new TextEncoder();

export function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 is enough for 256-bit random tokens: they cannot be guessed, so a slow KDF would only cost latency. */
export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(value));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares two secrets without leaking where they differ; hashing first makes the lengths equal. */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}

/** Compares a presented token's hash with a stored hash (both hex) in constant time. */
export function hashesEqual(aHex: string, bHex: string): boolean {
  const a = encoder.encode(aHex);
  const b = encoder.encode(bHex);
  if (a.byteLength !== b.byteLength) return false;
  return crypto.subtle.timingSafeEqual(a, b);
}
