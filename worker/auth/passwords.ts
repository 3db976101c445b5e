/**
 * Password hashing with PBKDF2-SHA256 through WebCrypto, the slow KDF the Workers runtime offers, at its maximum
 * iteration count (workerd refuses more than 100,000). Each password gets its own random salt; the stored form is
 * `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64), so the count can be raised later without breaking old ones.
 */
export const PBKDF2_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;
const SCHEME = "pbkdf2-sha256";

const encoder = new TextEncoder();

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BITS));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS);
  return `${SCHEME}$${PBKDF2_ITERATIONS}$${toBase64(salt)}$${toBase64(hash)}`;
}

/** A made-up hash to check against when there is no account, so that an unknown email costs the same time. */
const NO_ACCOUNT = `${SCHEME}$${PBKDF2_ITERATIONS}$${toBase64(new Uint8Array(SALT_BYTES))}$${toBase64(new Uint8Array(HASH_BITS / 8))}`;

/** Checks a password against a stored hash in constant time; a missing or malformed hash never matches. */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? NO_ACCOUNT).split("$");
  const iterations = Number(parts[1]);
  if (parts.length !== 4 || parts[0] !== SCHEME || !Number.isInteger(iterations) || iterations < 1 || iterations > PBKDF2_ITERATIONS) return false;
  const expected = fromBase64(parts[3]!);
  const actual = await derive(password, fromBase64(parts[2]!), iterations);
  const same = expected.byteLength === actual.byteLength && crypto.subtle.timingSafeEqual(expected, actual);
  return same && stored !== null;
}
