import { isPrivateHost } from "../../protocol/private-hosts.ts";
import { lastFour, type LlmKeyScope, type LlmKeyView, type LlmProvider, type SetLlmKeyRequest } from "../../protocol/llm.ts";
import { directoryOf } from "../../worker/auth/directory-stub.ts";
import type { Env } from "../../worker/env.ts";
import { personalKeyShard } from "../credentials/shard-name.ts";
import { open, seal } from "./llm-key-crypto.ts";
import type { StoredLlmKey } from "./llm-key-rows.ts";

export type { StoredLlmKey } from "./llm-key-rows.ts";

/** A key ready to call a provider with. Lives only in the memory of the object making the call. */
export interface UsableLlmKey {
  scope: LlmKeyScope;
  provider: LlmProvider;
  model: string;
  baseUrl: string | null;
  apiKey: string;
}

/**
 * Where keys live: a personal key in its owner's key shard (one of the credential shards, picked by the user id, so
 * the read on every chat message spreads over them like credentials do), a site key with the site (its SiteHub).
 * Saving or removing a personal key also notes it in the Directory's audit trail; reading one never asks it.
 */
export interface LlmKeyHome {
  personal(userId: string): Promise<StoredLlmKey | null>;
  setPersonal(userId: string, key: StoredLlmKey, actor: string): Promise<void>;
  clearPersonal(userId: string, actor: string): Promise<boolean>;
  site(site: string): Promise<StoredLlmKey | null>;
  setSite(site: string, key: StoredLlmKey, actor: string): Promise<void>;
  clearSite(site: string, actor: string): Promise<boolean>;
}

export function llmKeyHome(env: Env): LlmKeyHome {
  const directory = () => directoryOf(env);
  const hub = (site: string) => env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
  return {
    personal: async (userId) => (await (await personalKeyShard(env, userId)).personalLlmKey(userId)) as StoredLlmKey | null,
    setPersonal: async (userId, key, actor) => {
      await (await personalKeyShard(env, userId)).setPersonalLlmKey(userId, key);
      await directory().auditLlmKey(actor, `${actor} saved a personal ${key.provider} key (…${key.last4}, model ${key.model})`);
    },
    clearPersonal: async (userId, actor) => {
      const removed = await (await personalKeyShard(env, userId)).clearPersonalLlmKey(userId);
      if (removed) await directory().auditLlmKey(actor, `${actor} removed their personal LLM key`);
      return removed;
    },
    site: async (site) => (await hub(site).siteLlmKey()) as StoredLlmKey | null,
    setSite: async (site, key, actor) => void (await hub(site).setSiteLlmKey(key, actor)),
    clearSite: async (site, actor) => hub(site).clearSiteLlmKey(actor),
  };
}

/** Binds a ciphertext to its owner: a sealed key copied to another user or site does not open there. */
function ownerOf(scope: LlmKeyScope, owner: string): string {
  return `cortex-llm-key:${scope}:${owner}`;
}

export async function sealLlmKey(env: Env, scope: LlmKeyScope, owner: string, req: SetLlmKeyRequest, actor: string, now = Date.now()): Promise<StoredLlmKey> {
  return {
    provider: req.provider,
    model: req.model,
    baseUrl: req.baseUrl ?? null,
    last4: lastFour(req.key),
    sealed: await seal(env.CORTEX_ENCRYPTION_KEY, req.key, ownerOf(scope, owner)),
    updatedAt: now,
    updatedBy: actor,
  };
}

/** The key in the clear, or null when it cannot be opened (the encryption key changed since it was saved). */
export async function openLlmKey(env: Env, scope: LlmKeyScope, owner: string, stored: StoredLlmKey): Promise<UsableLlmKey | null> {
  const apiKey = await open(env.CORTEX_ENCRYPTION_KEY, stored.sealed, ownerOf(scope, owner));
  return apiKey === null ? null : { scope, provider: stored.provider, model: stored.model, baseUrl: stored.baseUrl, apiKey };
}

export function llmKeyView(scope: LlmKeyScope, stored: StoredLlmKey): LlmKeyView {
  const { provider, model, baseUrl, last4, updatedAt, updatedBy } = stored;
  return { scope, provider, model, baseUrl, last4, updatedAt, updatedBy };
}

/**
 * Why this hub will not call a base URL, or null when it will. A base URL on a private or loopback address is
 * refused unless the operator allows them (CORTEX_ALLOW_PRIVATE_LLM_URLS=1): deployed on Cloudflare a Worker reaches
 * only the public internet anyway, but a hub run elsewhere would reach its own machine and network for whoever
 * saved the key. Checked when a key is saved and again before every call (a key saved while they were allowed).
 */
export function baseUrlRefusal(env: Pick<Env, "CORTEX_ALLOW_PRIVATE_LLM_URLS">, baseUrl: string | null): string | null {
  if (baseUrl === null || env.CORTEX_ALLOW_PRIVATE_LLM_URLS === "1") return null;
  const host = new URL(baseUrl).hostname;
  if (!isPrivateHost(host)) return null;
  return `the base URL's host ${host} is a private or loopback address, which this hub does not call (its operator may allow such addresses with CORTEX_ALLOW_PRIVATE_LLM_URLS=1)`;
}
