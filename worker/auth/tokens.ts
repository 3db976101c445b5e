import { randomHex, sha256Hex } from "../../durable-objects/shared/secrets.ts";

/**
 * The random secrets the hub hands out, each 256 bits with a prefix that says what it is (so a leaked one is
 * recognisable in a log or a secret scanner). Only their SHA-256 is stored.
 */
export function newSessionToken(): string {
  return `cxs_${randomHex(32)}`;
}

export function newApiKey(): string {
  return `cxk_${randomHex(32)}`;
}

export function newInviteToken(): string {
  return `cxi_${randomHex(32)}`;
}

/** Enough of a key to tell keys apart in a list, far too little to use. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, 12);
}

export const hashToken = sha256Hex;
