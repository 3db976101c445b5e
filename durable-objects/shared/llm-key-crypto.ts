/**
 * LLM keys at rest: AES-256-GCM with a key derived (HKDF-SHA256) from the CORTEX_ENCRYPTION_KEY secret. The
 * additional data names the key's owner, so a stored ciphertext copied to another user or site does not open there.
 */

export interface SealedSecret {
  /** base64 of the 12-byte nonce. */
  iv: string;
  /** base64 of the ciphertext with its 16-byte tag. */
  ciphertext: string;
}

/** Shorter secrets are refused: the key derivation cannot add entropy that is not there. */
const MIN_SECRET_CHARS = 32;
const encoder = new TextEncoder();
const derived = new Map<string, Promise<CryptoKey>>();

export class EncryptionUnavailable extends Error {}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function keyFrom(secret: string | undefined): Promise<CryptoKey> {
  if (!secret || secret.length < MIN_SECRET_CHARS) {
    throw new EncryptionUnavailable(
      `CORTEX_ENCRYPTION_KEY is ${secret ? "too short" : "not set"}: set it to at least ${MIN_SECRET_CHARS} random characters (wrangler secret put CORTEX_ENCRYPTION_KEY; npm start writes one into .dev.vars)`,
    );
  }
  let key = derived.get(secret);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: encoder.encode("cortex-hub llm keys"), info: encoder.encode("aes-256-gcm v1") },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    derived.set(secret, key);
  }
  return key;
}

export async function seal(secret: string | undefined, plaintext: string, owner: string): Promise<SealedSecret> {
  const key = await keyFrom(secret);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(owner) }, key, encoder.encode(plaintext));
  return { iv: toBase64(iv), ciphertext: toBase64(new Uint8Array(ciphertext)) };
}

/** The plaintext, or null when the ciphertext does not open (another encryption key, another owner, tampering). */
export async function open(secret: string | undefined, sealed: SealedSecret, owner: string): Promise<string | null> {
  const key = await keyFrom(secret);
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(sealed.iv), additionalData: encoder.encode(owner) },
      key,
      fromBase64(sealed.ciphertext),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
