import * as z from "zod";
import { chunkKey, manifestKey } from "../../durable-objects/site-hub/roost-keys.ts";
import { SiteId } from "../../protocol/identifiers.ts";
import { ChunkHash, RoostName, VersionNumber } from "../../protocol/roost-manifest.ts";
import { apiError, failure } from "../http/api-error.ts";
import { parseParam } from "../http/validate.ts";
import type { AppContext } from "./site-context.ts";

type Wanted = { hash: string } | { roost: string; version: number };

/**
 * Streams a manifest or chunk from R2 to the node that asks, once the site's object has checked the node token
 * (401) and that the thing asked for belongs to a version deployed to that very node (403 otherwise). The bytes
 * never pass through the Durable Object.
 */
async function serve(c: AppContext, wanted: Wanted, key: (site: string) => string): Promise<Response> {
  const site = SiteId.safeParse(c.req.param("site"));
  if (!site.success) return apiError(c, 400, "invalid_site", `site: ${site.error.issues[0]?.message}`);
  const token = /^Bearer\s+(\S+)$/i.exec(c.req.header("Authorization") ?? "")?.[1];
  if (!token) return apiError(c, 401, "unauthorized", "send Authorization: Bearer <node token>");
  const hub = c.env.SITE_HUB.get(c.env.SITE_HUB.idFromName(site.data));
  const access = await hub.roostNodeAccess(token, wanted);
  if (!access.ok) return failure(c, access.error);
  const object = await c.env.ROOST.get(key(site.data));
  if (!object) return apiError(c, 404, "not_in_storage", "the hub's storage no longer has this object");
  return new Response(object.body, {
    headers: { "Content-Type": "application/octet-stream", "Content-Length": String(object.size), "Cache-Control": "no-store" },
  });
}

const VersionParam = z.coerce.number().pipe(VersionNumber);

/** Routes agents call with their node token; not part of the user API (no session, no API key). */
export const roostNodeRoutes: { path: string; handler: (c: AppContext) => Promise<Response> }[] = [
  {
    path: "/roost/node/chunks/:hash",
    handler: async (c) => {
      const hash = parseParam(c, ChunkHash, "hash");
      if (!hash.ok) return hash.response;
      return serve(c, { hash: hash.value }, (site) => chunkKey(site, hash.value));
    },
  },
  {
    path: "/roost/node/manifests/:roost/:version",
    handler: async (c) => {
      const roost = parseParam(c, RoostName, "roost");
      if (!roost.ok) return roost.response;
      const version = parseParam(c, VersionParam, "version");
      if (!version.ok) return version.response;
      return serve(c, { roost: roost.value, version: version.value }, (site) => manifestKey(site, roost.value, version.value));
    },
  },
];
