import { installCommand } from "../../protocol/agent-release.ts";
import { NodeId } from "../../protocol/identifiers.ts";
import { RegisterNodeRequest, UpdateNodeRequest, type NodeCredentials } from "../../protocol/api.ts";
import type { IssuedToken } from "../../durable-objects/site-hub/site-hub.ts";
import { failure, respond } from "../http/api-error.ts";
import { parseBody, parseParam } from "../http/validate.ts";
import { actorOf, siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

/**
 * The endpoint and ready commands for a freshly issued token, built from the URL the caller reached us on, so they
 * name this hub and this site. Neither command holds the token: it is asked for, or read from a file.
 */
function credentials(c: AppContext, issued: IssuedToken): NodeCredentials {
  const url = new URL(c.req.url);
  const scheme = url.protocol === "https:" ? "wss:" : "ws:";
  const site = c.get("site");
  const endpoint = `${scheme}//${url.host}/api/sites/${site}/connect`;
  const { node, token } = issued;
  return {
    id: node.id,
    name: node.name,
    tier: node.tier,
    group: node.group,
    token,
    endpoint,
    installCommand: installCommand(url.origin, site, node.tier),
    connectCommand: `cortex node connect --endpoint ${endpoint} --tier ${node.tier} --token-file ${node.id}.token`,
  };
}

export const nodeRoutes: SiteRoute[] = [
  {
    method: "post",
    path: "/nodes",
    permission: "nodes.manage",
    handler: async (c) => {
      const body = await parseBody(c, RegisterNodeRequest);
      if (!body.ok) return body.response;
      const result = await siteHub(c).registerNode(body.value, actorOf(c));
      return result.ok ? c.json(credentials(c, result.value), 201) : failure(c, result.error);
    },
  },
  {
    method: "get",
    path: "/nodes",
    permission: "nodes.read",
    handler: async (c) => c.json({ nodes: await siteHub(c).listNodes() }),
  },
  {
    method: "get",
    path: "/nodes/:id",
    permission: "nodes.read",
    handler: async (c) => {
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).getNode(id.value));
    },
  },
  {
    method: "patch",
    path: "/nodes/:id",
    permission: "nodes.manage",
    handler: async (c) => {
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      const body = await parseBody(c, UpdateNodeRequest);
      if (!body.ok) return body.response;
      return respond(c, await siteHub(c).setAiTools(id.value, body.value.aiToolsAllowed, actorOf(c)));
    },
  },
  {
    method: "delete",
    path: "/nodes/:id",
    permission: "nodes.manage",
    handler: async (c) => {
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).deregisterNode(id.value, actorOf(c)));
    },
  },
  {
    method: "post",
    path: "/nodes/:id/rekey",
    permission: "nodes.manage",
    handler: async (c) => {
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      const result = await siteHub(c).rekeyNode(id.value, actorOf(c));
      return result.ok ? c.json(credentials(c, result.value)) : failure(c, result.error);
    },
  },
];
