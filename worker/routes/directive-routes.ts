import * as z from "zod";
import { NodeId } from "../../protocol/identifiers.ts";
import {
  DirectiveListQuery,
  DirectiveRequest,
  FanOutRequest,
  type DirectiveListResponse,
  type DirectiveView,
  type FanOutResponse,
} from "../../protocol/api.ts";
import { RunRefParams } from "../../protocol/directives.ts";
import type { HubResult } from "../../durable-objects/shared/hub-result.ts";
import { refuseAction } from "../auth/action-check.ts";
import { requesterOf } from "../auth/requester.ts";
import { apiError, failure, respond } from "../http/api-error.ts";
import { toEventStream } from "../http/directive-stream.ts";
import { parseBody, parseParam, parseQuery } from "../http/validate.ts";
import { siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

const DirectiveId = z.string().regex(/^d-[0-9a-f-]{36}$/, "not a directive id");
const FanOutId = z.string().regex(/^f-[0-9a-f-]{36}$/, "not a fan-out id");

function wantsEvents(c: AppContext): boolean {
  return (c.req.header("Accept") ?? "").includes("text/event-stream");
}

export const directiveRoutes: SiteRoute[] = [
  {
    method: "post",
    path: "/nodes/:id/directives",
    permission: "directives.run",
    confirmsAccess: (c) => !wantsEvents(c),
    handler: async (c) => {
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      const body = await parseBody(c, DirectiveRequest);
      if (!body.ok) return body.response;
      const refused = refuseAction(c, body.value.action);
      if (refused) return refused;
      if (wantsEvents(c)) {
        const opened = await siteHub(c).runDirective(id.value, body.value, requesterOf(c));
        if (!opened.ok) return failure(c, opened.error);
        return toEventStream(opened.value.stream, { "X-Cortex-Directive": opened.value.directiveId });
      }
      // RPC typing cannot express the `unknown` params of a directive; the object returns a DirectiveView.
      const ended = (await siteHub(c).runDirectiveToEnd(id.value, body.value, requesterOf(c), c.get("keptAccessVersion"))) as HubResult<DirectiveView | null>;
      if (!ended.ok) return failure(c, ended.error);
      return ended.value ? c.json(ended.value) : apiError(c, 503, "stream_ended", "the hub stopped before the directive ended; see GET /directives");
    },
  },
  {
    method: "post",
    path: "/fanouts",
    permission: "directives.run",
    handler: async (c) => {
      const body = await parseBody(c, FanOutRequest);
      if (!body.ok) return body.response;
      const refused = refuseAction(c, body.value.action);
      if (refused) return refused;
      if (wantsEvents(c)) {
        const opened = await siteHub(c).fanOut(body.value, requesterOf(c));
        if (!opened.ok) return failure(c, opened.error);
        return toEventStream(opened.value.stream, { "X-Cortex-Fanout": opened.value.fanoutId });
      }
      // RPC typing cannot express the `unknown` params of a directive; the object returns a FanOutResponse.
      const ended = (await siteHub(c).fanOutToEnd(body.value, requesterOf(c))) as HubResult<FanOutResponse>;
      return ended.ok ? c.json(ended.value) : failure(c, ended.error);
    },
  },
  {
    method: "get",
    path: "/fanouts/:id",
    permission: "directives.read",
    handler: async (c) => {
      const id = parseParam(c, FanOutId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).getFanOut(id.value));
    },
  },
  {
    method: "post",
    path: "/fanouts/:id/cancel",
    permission: "directives.run",
    handler: async (c) => {
      const id = parseParam(c, FanOutId, "id");
      if (!id.ok) return id.response;
      // Cancelling takes the right to run the fan-out's action: members may stop their own reads, not a shell.
      // RPC typing cannot express the `unknown` params of a directive; the object returns a DirectiveListResponse.
      const members = (await siteHub(c).listDirectives({ fanout: id.value, limit: 1 }, requesterOf(c))) as DirectiveListResponse;
      const action = members.directives[0]?.action;
      if (!action) return apiError(c, 404, "fanout_not_found", `fan-out ${id.value} not found`);
      const refused = refuseAction(c, action);
      if (refused) return refused;
      return respond(c, await siteHub(c).cancelFanOut(id.value, requesterOf(c).actor));
    },
  },
  {
    method: "get",
    path: "/nodes/:id/runs/:runId",
    permission: "directives.read",
    handler: async (c) => {
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      const runId = parseParam(c, RunRefParams().shape.runId, "runId");
      if (!runId.ok) return runId.response;
      return respond(c, await siteHub(c).getRun(id.value, runId.value, requesterOf(c)));
    },
  },
  {
    method: "get",
    path: "/directives",
    permission: "directives.read",
    handler: async (c) => {
      const q = parseQuery(c, DirectiveListQuery);
      if (!q.ok) return q.response;
      return c.json(await siteHub(c).listDirectives(q.value, requesterOf(c)));
    },
  },
  {
    method: "get",
    path: "/directives/:id",
    permission: "directives.read",
    handler: async (c) => {
      const id = parseParam(c, DirectiveId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).getDirective(id.value, requesterOf(c)));
    },
  },
  {
    method: "post",
    path: "/directives/:id/cancel",
    permission: "directives.run",
    handler: async (c) => {
      const id = parseParam(c, DirectiveId, "id");
      if (!id.ok) return id.response;
      const directive = (await siteHub(c).getDirective(id.value, requesterOf(c))) as HubResult<DirectiveView>;
      if (!directive.ok) return failure(c, directive.error);
      const refused = refuseAction(c, directive.value.action);
      if (refused) return refused;
      return respond(c, await siteHub(c).cancelDirective(id.value, requesterOf(c)));
    },
  },
];
