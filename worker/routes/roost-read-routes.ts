import * as z from "zod";
import { manifestKey } from "../../durable-objects/site-hub/roost-keys.ts";
import { DeploymentListQuery, DiffQuery, type RoostDiffResponse, type VersionDetail } from "../../protocol/roost-api.ts";
import { diffManifests, listedEntry, RoostManifest, RoostName, VersionNumber } from "../../protocol/roost-manifest.ts";
import { apiError, failure, respond } from "../http/api-error.ts";
import { requesterOf } from "../auth/requester.ts";
import { toEventStream } from "../http/directive-stream.ts";
import { parseParam, parseQuery } from "../http/validate.ts";
import { siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

const VersionParam = z.coerce.number().pipe(VersionNumber);
export const DeploymentId = z.string().regex(/^r-[0-9a-f-]{36}$/, "not a deployment id");

/** A version's manifest from R2, once the site's object has said the version exists (and which one it is). */
async function loadManifest(c: AppContext, roost: string, version: number): Promise<{ ok: true; manifest: RoostManifest } | { ok: false; response: Response }> {
  const known = await siteHub(c).roostVersion(roost, version);
  if (!known.ok) return { ok: false, response: failure(c, known.error) };
  const object = await c.env.ROOST.get(manifestKey(c.get("site"), roost, version));
  if (!object) return { ok: false, response: apiError(c, 503, "manifest_missing", `the manifest of ${roost}@${version} is not in storage`) };
  return { ok: true, manifest: RoostManifest.parse(await object.json()) };
}

/** Roosts, versions, what changed between two of them, and deployments: what every member of the site may see. */
export const roostReadRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/roosts",
    permission: "roost.read",
    handler: async (c) => c.json({ roosts: await siteHub(c).roostList() }),
  },
  {
    method: "get",
    path: "/roosts/:roost/versions",
    permission: "roost.read",
    handler: async (c) => {
      const roost = parseParam(c, RoostName, "roost");
      if (!roost.ok) return roost.response;
      const versions = await siteHub(c).roostVersions(roost.value);
      return versions.ok ? c.json({ versions: versions.value }) : failure(c, versions.error);
    },
  },
  {
    method: "get",
    path: "/roosts/:roost/versions/:version",
    permission: "roost.read",
    handler: async (c) => {
      const roost = parseParam(c, RoostName, "roost");
      if (!roost.ok) return roost.response;
      const version = parseParam(c, VersionParam, "version");
      if (!version.ok) return version.response;
      const view = await siteHub(c).roostVersion(roost.value, version.value);
      if (!view.ok) return failure(c, view.error);
      const loaded = await loadManifest(c, roost.value, version.value);
      if (!loaded.ok) return loaded.response;
      return c.json({ version: view.value, files: loaded.manifest.files.map(listedEntry) } satisfies VersionDetail);
    },
  },
  {
    method: "get",
    path: "/roosts/:roost/diff",
    permission: "roost.read",
    handler: async (c) => {
      const roost = parseParam(c, RoostName, "roost");
      if (!roost.ok) return roost.response;
      const q = parseQuery(c, DiffQuery);
      if (!q.ok) return q.response;
      const from = await loadManifest(c, roost.value, q.value.from);
      if (!from.ok) return from.response;
      const to = await loadManifest(c, roost.value, q.value.to);
      if (!to.ok) return to.response;
      const diff = diffManifests(from.manifest.files, to.manifest.files);
      return c.json({ roost: roost.value, from: q.value.from, to: q.value.to, ...diff } satisfies RoostDiffResponse);
    },
  },
  {
    method: "get",
    path: "/roost/deployments",
    permission: "roost.read",
    handler: async (c) => {
      const q = parseQuery(c, DeploymentListQuery);
      if (!q.ok) return q.response;
      return c.json({ deployments: await siteHub(c).roostDeployments(q.value, requesterOf(c)) });
    },
  },
  {
    method: "get",
    path: "/roost/deployments/:id",
    permission: "roost.read",
    handler: async (c) => {
      const id = parseParam(c, DeploymentId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).roostDeployment(id.value, requesterOf(c)));
    },
  },
  {
    method: "get",
    path: "/roost/deployments/:id/events",
    permission: "roost.read",
    handler: async (c) => {
      const id = parseParam(c, DeploymentId, "id");
      if (!id.ok) return id.response;
      const stream = await siteHub(c).roostFollow(id.value, requesterOf(c));
      if (!stream.ok) return failure(c, stream.error);
      return toEventStream(stream.value);
    },
  },
];
