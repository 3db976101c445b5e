import type { Env } from "../../worker/env.ts";
import { sha256Hex } from "../shared/secrets.ts";

/**
 * Credentials (session tokens, API keys, single sign-on emails) live in 4,096 shards picked by the first three hex
 * digits of the credential's SHA-256, so that looking one up touches one small object, never one shared by the whole
 * hub. The hash is uniform, so the load is too. The number is fixed for good: changing it would lose every
 * credential. Why a fixed set rather than one object per credential: an object that does not know a credential must
 * be able to say so without asking anyone (see `CredentialShard`), and a fixed set asks at most once each.
 */
export const SHARD_DIGITS = 3;

export function shardName(hash: string): string {
  return `cred-${hash.slice(0, SHARD_DIGITS)}`;
}

export function credentialShard(env: Pick<Env, "CREDENTIALS">, hash: string) {
  return env.CREDENTIALS.get(env.CREDENTIALS.idFromName(shardName(hash)));
}

/** A single sign-on identity is looked up like a token: by the SHA-256 of its normalised email. */
export function ssoCredentialInput(email: string): string {
  return `sso:${email}`;
}

/** A user's personal AI key lives in the shard their id hashes to (the prefix keeps it apart from credential hashes). */
export async function personalKeyShard(env: Pick<Env, "CREDENTIALS">, userId: string) {
  return credentialShard(env, await sha256Hex(`llm-key:${userId}`));
}
