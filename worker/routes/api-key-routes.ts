import * as z from "zod";
import { CreateApiKeyRequest } from "../../protocol/accounts.ts";
import { apiKeyPrefix, hashToken, newApiKey } from "../auth/tokens.ts";
import { failure, respond } from "../http/api-error.ts";
import { parseBody, parseParam } from "../http/validate.ts";
import { directory, signedInUser, who } from "./account-context.ts";
import type { AccountRoute } from "./site-context.ts";

const KeyId = z.string().regex(/^k-[0-9a-f-]{36}$/, "not an API key id");

/** The caller's own API keys. A key acts with its owner's roles as they are at each request, capped by its scope. */
export const apiKeyRoutes: AccountRoute[] = [
  {
    method: "get",
    path: "/api/auth/api-keys",
    permission: "account.manage",
    handler: async (c) => c.json({ apiKeys: await directory(c).listApiKeys(signedInUser(c).user.id) }),
  },
  {
    method: "post",
    path: "/api/auth/api-keys",
    permission: "account.manage",
    handler: async (c) => {
      const body = await parseBody(c, CreateApiKeyRequest);
      if (!body.ok) return body.response;
      const key = newApiKey();
      const created = await directory(c).createApiKey(
        {
          userId: signedInUser(c).user.id,
          name: body.value.name,
          scope: body.value.scope,
          keyHash: await hashToken(key),
          prefix: apiKeyPrefix(key),
          expiresAt: body.value.expiresAt ?? null,
        },
        who(c),
      );
      if (!created.ok) return failure(c, created.error);
      return c.json({ apiKey: created.value, key }, 201);
    },
  },
  {
    method: "delete",
    path: "/api/auth/api-keys/:id",
    permission: "account.manage",
    handler: async (c) => {
      const id = parseParam(c, KeyId, "id");
      if (!id.ok) return id.response;
      return respond(c, await directory(c).revokeApiKey(signedInUser(c).user.id, id.value, who(c)));
    },
  },
];
