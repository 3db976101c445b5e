import { DeploymentRequest, type DeploymentKind } from "../../protocol/roost-api.ts";
import { RoostName } from "../../protocol/roost-manifest.ts";
import { failure, respond } from "../http/api-error.ts";
import { toEventStream } from "../http/directive-stream.ts";
import { parseBody, parseParam } from "../http/validate.ts";
import { requesterOf } from "../auth/requester.ts";
import { DeploymentId } from "./roost-read-routes.ts";
import { actorOf, siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

/** Starts a deployment (or a rollback); streams its events when asked for them, else answers with its view at once. */
async function start(c: AppContext, kind: DeploymentKind): Promise<Response> {
  const roost = parseParam(c, RoostName, "roost");
  if (!roost.ok) return roost.response;
  const body = await parseBody(c, DeploymentRequest);
  if (!body.ok) return body.response;
  const hub = siteHub(c);
  const watch = (c.req.header("Accept") ?? "").includes("text/event-stream");
  const opened = await hub.roostDeploy(kind, roost.value, body.value, requesterOf(c), watch);
  if (!opened.ok) return failure(c, opened.error);
  const { deploymentId, stream } = opened.value;
  if (stream) return toEventStream(stream, { "X-Cortex-Deployment": deploymentId });
  return respond(c, await hub.roostDeployment(deploymentId, requesterOf(c)), 201);
}

/** Deploying, rolling back, and steering a deployment by hand: site admins (risk tier 3, see authorize). */
export const roostDeployRoutes: SiteRoute[] = [
  { method: "post", path: "/roosts/:roost/deployments", permission: "roost.deploy", handler: (c) => start(c, "deploy") },
  { method: "post", path: "/roosts/:roost/rollbacks", permission: "roost.rollback", handler: (c) => start(c, "rollback") },
  {
    method: "post",
    path: "/roost/deployments/:id/promote",
    permission: "roost.deploy",
    handler: async (c) => {
      const id = parseParam(c, DeploymentId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).roostPromote(id.value, actorOf(c)));
    },
  },
  {
    method: "post",
    path: "/roost/deployments/:id/abort",
    permission: "roost.deploy",
    handler: async (c) => {
      const id = parseParam(c, DeploymentId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).roostAbort(id.value, actorOf(c)));
    },
  },
];
