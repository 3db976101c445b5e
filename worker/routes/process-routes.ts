import { PROCESS_ADD_RISK, PROCESS_REMOVE_RISK, riskOfProcessPatch } from "../../protocol/action-risk.ts";
import type { DirectiveView } from "../../protocol/api.ts";
import { NodeId } from "../../protocol/identifiers.ts";
import {
  ProcessLogsQuery,
  ProcessName,
  ProcessOperation,
  ProcessPatch,
  ProcessSpec,
  type ProcessActionResponse,
  type ProcessLogsResponse,
} from "../../protocol/processes.ts";
import type { HubResult } from "../../durable-objects/shared/hub-result.ts";
import { refuseAction, refuseProcessChange } from "../auth/action-check.ts";
import { requesterOf } from "../auth/requester.ts";
import { apiError, failure, respond } from "../http/api-error.ts";
import { awaitResult } from "../http/directive-stream.ts";
import { parseBody, parseParam, parseQuery } from "../http/validate.ts";
import { actorOf, siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

type Opened = HubResult<{ directiveId: string; stream: ReadableStream<Uint8Array> }>;

function target(c: AppContext): { ok: true; node: string; name: string } | { ok: false; response: Response } {
  const node = parseParam(c, NodeId, "id");
  if (!node.ok) return node;
  const name = parseParam(c, ProcessName, "name");
  if (!name.ok) return name;
  return { ok: true, node: node.value, name: name.value };
}

/** Waits for the directive behind a start, stop, restart or log read; a hub that stopped meanwhile is a 503. */
async function finished(c: AppContext, opened: Opened): Promise<DirectiveView | Response> {
  if (!opened.ok) return failure(c, opened.error);
  const view = await awaitResult(opened.value.stream);
  return view ?? apiError(c, 503, "stream_ended", "the hub stopped before the agent answered; see GET /directives");
}

/**
 * A machine's supervised processes. Reading the list is for everyone on the site (members see arguments redacted
 * and no environment values); changing it is for site admins, at risk tier 3 for what runs and 2 for when and how;
 * start, stop and restart are tier-2 actions and reading a log a tier-1 one, sent to the agent as directives.
 */
export const processRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/nodes/:id/processes",
    permission: "nodes.read",
    handler: async (c) => {
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).listProcesses(id.value, requesterOf(c)));
    },
  },
  {
    method: "post",
    path: "/nodes/:id/processes",
    permission: "processes.manage",
    handler: async (c) => {
      const refused = refuseProcessChange(c, PROCESS_ADD_RISK);
      if (refused) return refused;
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      const body = await parseBody(c, ProcessSpec);
      if (!body.ok) return body.response;
      return respond(c, await siteHub(c).addProcess(id.value, body.value, actorOf(c)), 201);
    },
  },
  {
    method: "patch",
    path: "/nodes/:id/processes/:name",
    permission: "processes.manage",
    handler: async (c) => {
      const t = target(c);
      if (!t.ok) return t.response;
      const body = await parseBody(c, ProcessPatch);
      if (!body.ok) return body.response;
      const refused = refuseProcessChange(c, riskOfProcessPatch(body.value));
      if (refused) return refused;
      return respond(c, await siteHub(c).updateProcess(t.node, t.name, body.value, actorOf(c)));
    },
  },
  {
    method: "delete",
    path: "/nodes/:id/processes/:name",
    permission: "processes.manage",
    handler: async (c) => {
      const refused = refuseProcessChange(c, PROCESS_REMOVE_RISK);
      if (refused) return refused;
      const t = target(c);
      if (!t.ok) return t.response;
      return respond(c, await siteHub(c).removeProcess(t.node, t.name, actorOf(c)));
    },
  },
  // A POST, though it changes nothing on the machine: it runs a directive (recorded, counted against the node's limits),
  // so it gets the origin check of a state change. Registered before `:operation`, which would take "logs" as one.
  {
    method: "post",
    path: "/nodes/:id/processes/:name/logs",
    permission: "directives.run",
    handler: async (c) => {
      const refused = refuseAction(c, "supervised.logs");
      if (refused) return refused;
      const t = target(c);
      if (!t.ok) return t.response;
      const q = parseQuery(c, ProcessLogsQuery);
      if (!q.ok) return q.response;
      const view = await finished(c, await siteHub(c).processLogs(t.node, t.name, q.value.lines, requesterOf(c)));
      if (view instanceof Response) return view;
      if (view.status !== "done") return apiError(c, view.errorCode === "offline" ? 503 : 502, view.errorCode ?? "failed", view.error ?? `the agent answered ${view.status}`);
      return c.json({ name: t.name, text: view.output ?? "" } satisfies ProcessLogsResponse);
    },
  },
  {
    method: "post",
    path: "/nodes/:id/processes/:name/:operation",
    permission: "directives.run",
    handler: async (c) => {
      const operation = parseParam(c, ProcessOperation, "operation");
      if (!operation.ok) return operation.response;
      const refused = refuseAction(c, `supervised.${operation.value}`);
      if (refused) return refused;
      const t = target(c);
      if (!t.ok) return t.response;
      const view = await finished(c, await siteHub(c).controlProcess(t.node, t.name, operation.value, requesterOf(c)));
      if (view instanceof Response) return view;
      const answer: ProcessActionResponse = {
        name: t.name,
        operation: operation.value,
        ok: view.status === "done",
        message: (view.status === "done" ? view.output?.trim() : view.error) || view.status,
        directiveId: view.id,
        status: view.data?.kind === "process" ? view.data.status : null,
      };
      return c.json(answer);
    },
  },
];
