import { LlmKeyResponse, SetLlmKeyRequest, type LlmKeyScope } from "../../protocol/llm.ts";
import { EncryptionUnavailable } from "../../durable-objects/shared/llm-key-crypto.ts";
import { baseUrlRefusal, llmKeyHome, llmKeyView, sealLlmKey, type StoredLlmKey } from "../../durable-objects/shared/llm-keys.ts";
import { principalId } from "../auth/principal.ts";
import { apiError } from "../http/api-error.ts";
import { parseBody } from "../http/validate.ts";
import type { AccountRoute, AppContext, SiteRoute } from "./site-context.ts";

/**
 * AI keys: the caller's personal key and a site's key (the fallback). A key is sealed here, in the Worker, before it
 * is stored, and is never sent back: only its provider, model, base URL and last four characters.
 */

interface KeyOwner {
  scope: LlmKeyScope;
  owner: (c: AppContext) => string;
  read: (c: AppContext, owner: string) => Promise<StoredLlmKey | null>;
  write: (c: AppContext, owner: string, key: StoredLlmKey) => Promise<void>;
  clear: (c: AppContext, owner: string) => Promise<boolean>;
}

const PERSONAL: KeyOwner = {
  scope: "personal",
  owner: (c) => principalId(c.get("principal"))!,
  read: (c, owner) => llmKeyHome(c.env).personal(owner),
  write: (c, owner, key) => llmKeyHome(c.env).setPersonal(owner, key, c.get("principal").label),
  clear: (c, owner) => llmKeyHome(c.env).clearPersonal(owner, c.get("principal").label),
};

const SITE: KeyOwner = {
  scope: "site",
  owner: (c) => c.get("site"),
  read: (c, owner) => llmKeyHome(c.env).site(owner),
  write: (c, owner, key) => llmKeyHome(c.env).setSite(owner, key, c.get("principal").label),
  clear: (c, owner) => llmKeyHome(c.env).clearSite(owner, c.get("principal").label),
};

function keyRoutes(path: string, permission: SiteRoute["permission"], home: KeyOwner): SiteRoute[] {
  return [
    {
      method: "get",
      path,
      permission,
      handler: async (c) => {
        const stored = await home.read(c, home.owner(c));
        return c.json({ key: stored ? llmKeyView(home.scope, stored) : null } satisfies LlmKeyResponse);
      },
    },
    {
      method: "put",
      path,
      permission,
      handler: async (c) => {
        const body = await parseBody(c, SetLlmKeyRequest);
        if (!body.ok) return body.response;
        const refused = baseUrlRefusal(c.env, body.value.baseUrl ?? null);
        if (refused) return apiError(c, 400, "private_base_url", refused);
        const owner = home.owner(c);
        let sealed: StoredLlmKey;
        try {
          sealed = await sealLlmKey(c.env, home.scope, owner, body.value, c.get("principal").label);
        } catch (error) {
          if (error instanceof EncryptionUnavailable) return apiError(c, 503, "encryption_unavailable", error.message);
          throw error;
        }
        await home.write(c, owner, sealed);
        return c.json({ key: llmKeyView(home.scope, sealed) } satisfies LlmKeyResponse);
      },
    },
    {
      method: "delete",
      path,
      permission,
      handler: async (c) => {
        const removed = await home.clear(c, home.owner(c));
        return removed ? c.json({ key: null } satisfies LlmKeyResponse) : apiError(c, 404, "no_llm_key", `no ${home.scope} AI key is saved`);
      },
    },
  ];
}

/** The caller's own key (`cortex llm set|show|clear`). */
export const personalKeyRoutes: AccountRoute[] = keyRoutes("/api/account/llm-key", "account.llm", PERSONAL);

/** The site's key, for members without one of their own (`cortex llm ... --site-key`). */
export const siteKeyRoutes: SiteRoute[] = keyRoutes("/llm-key", "site.manage", SITE);
